using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;
using StudentDataQuality.Data.Sources;
using StudentDataQuality.Identifiers;
using StudentDataQuality.Records;

namespace StudentDataQuality.Data.Staging;

/// <summary>Which round an extract goes into, and who runs it.</summary>
public sealed record ExtractRequest(string RoundCode, string Actor)
{
    /// <summary>The round's reference date when the round is new (default today).</summary>
    public DateOnly? RoundDate { get; init; }

    /// <summary>The code of the round before this one (for the cross-round checks), when the round is new.</summary>
    public string? PreviousRoundCode { get; init; }
}

/// <summary>What happened to one source.</summary>
/// <param name="Unparsed">Per field name, how many values had text that did not parse (typed value NULL).</param>
public sealed record StagedSource(
    string Name, string Kind, string Layout, string Sha256, long Rows, int FileId, bool AlreadyStaged,
    IReadOnlyList<string> UnknownColumns, string? Encoding, long ElapsedMs, int Schools, IReadOnlyDictionary<string, long> Unparsed);

public sealed record ExtractResult(Round Round, IReadOnlyList<StagedSource> Sources)
{
    public long RowsStaged => Sources.Where(s => !s.AlreadyStaged).Sum(s => s.Rows);
}

/// <summary>
/// Extract and stage: registry exports (CSV or XLSX files, or a folder of them) or a source-database query become
/// version 1 of the round's records (and the round's school master), by binary COPY, streaming. Every source is
/// checked before anything is written (kind, encoding, header), and all sources of one call are staged in one
/// transaction: bad input stages nothing. A source whose bytes were already staged in the round is a no-op.
/// </summary>
public sealed class ExtractService
{
    private const int ProgressEvery = 10_000;
    private static readonly HashSet<string> FileExtensions = new(StringComparer.OrdinalIgnoreCase) { ".csv", ".txt", ".xlsx", ".xls", ".xlsm" };

    private readonly NpgsqlDataSource _dataSource;
    private readonly ILogger _logger;

    public ExtractService(NpgsqlDataSource dataSource, ILogger<ExtractService>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        _dataSource = dataSource;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Stages files; a folder stands for the export files directly in it (.csv, .txt, .xlsx).</summary>
    public async Task<ExtractResult> ExtractFilesAsync(ExtractRequest request, IReadOnlyList<string> paths, IProgress<long>? rowsStaged = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var files = ExpandPaths(paths);
        var probeWatch = Stopwatch.StartNew();
        var probes = files.Select(SourceProbe.Probe).ToArray();
        _logger.LogDebug("Probed {FileCount} files in {ElapsedMs} ms", probes.Length, probeWatch.ElapsedMilliseconds);
        var duplicate = probes.GroupBy(p => p.Sha256).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new UserErrorException(new UserMessage("Staging.SameFile", string.Join(", ", duplicate.Select(p => Path.GetFileName(p.Path)))));
        }

        var existing = await RoundStore.FindAsync(_dataSource, request.RoundCode, cancellationToken);
        RoundStore.Check(request.RoundCode, request.RoundDate, existing);
        var staged = existing is null
            ? []
            : await AlreadyStagedAsync(existing.RoundId, probes.Select(p => p.Sha256).ToArray(), cancellationToken);

        var results = new List<StagedSource>();
        var pending = new List<(ProbeResult Probe, IRowSource Source, HeaderMapping Mapping)>();
        try
        {
            foreach (var probe in probes)
            {
                if (staged.TryGetValue(probe.Sha256, out var earlier))
                {
                    results.Add(earlier with { AlreadyStaged = true, ElapsedMs = 0 });
                    continue;
                }

                IRowSource source = probe.Kind == "xlsx" ? new XlsxRowSource(probe) : new CsvRowSource(probe);
                try
                {
                    pending.Add((probe, source, HeaderMapping.Map(source.Headers, source.Name)));
                }
                catch
                {
                    source.Dispose();
                    throw;
                }
            }

            if (pending.Count > 0)
            {
                // School masters first, so that a round's master precedes the records that refer to it.
                var ordered = pending.OrderBy(p => p.Mapping.Layout == Layouts.School ? 0 : 1).ToArray();
                var (round, stagedNow) = await StageAsync(request,
                    ordered.Select(p => (p.Source, p.Mapping, (string?)p.Probe.Sha256, (long?)p.Probe.Length)).ToArray(), rowsStaged, cancellationToken);
                results.AddRange(stagedNow);
                existing = round;
            }
        }
        finally
        {
            foreach (var p in pending)
            {
                p.Source.Dispose();
            }
        }

        // Every source was staged before: the round exists (that is how we knew).
        return new ExtractResult(existing!, results);
    }

    /// <summary>
    /// Stages the result of a query against the registry's database. Its fingerprint is the sha256 of the rows as
    /// text, so the same data twice in a round is a no-op like a file.
    /// </summary>
    public async Task<ExtractResult> ExtractQueryAsync(ExtractRequest request, string sourceConnectionString, string query,
        IProgress<long>? rowsStaged = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        RoundStore.Check(request.RoundCode, request.RoundDate, await RoundStore.FindAsync(_dataSource, request.RoundCode, cancellationToken));
        using var source = new DatabaseRowSource(sourceConnectionString, query);
        var mapping = HeaderMapping.Map(source.Headers, "The source query");
        try
        {
            var (round, staged) = await StageAsync(request, [(source, mapping, null, null)], rowsStaged, cancellationToken);
            return new ExtractResult(round, staged);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation && e.ConstraintName == "source_file_round_id_sha256_key")
        {
            // Same rows as an earlier extract of this round: nothing was kept (the transaction rolled back).
            var sha = (string)e.Data["sha256"]!;
            var round = (await RoundStore.FindAsync(_dataSource, request.RoundCode, cancellationToken))!;
            var earlier = await AlreadyStagedAsync(round.RoundId, [sha], cancellationToken);
            return new ExtractResult(round, [earlier[sha] with { AlreadyStaged = true, ElapsedMs = 0 }]);
        }
    }

    private async Task<(Round Round, IReadOnlyList<StagedSource> Staged)> StageAsync(ExtractRequest request,
        IReadOnlyList<(IRowSource Source, HeaderMapping Mapping, string? Sha256, long? Length)> sources, IProgress<long>? rowsStaged,
        CancellationToken cancellationToken)
    {
        var results = new List<StagedSource>();
        var actor = request.Actor;
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // One extract into a round at a time (a job retried while the CLI runs, two workers): the second waits, then
        // finds what the first staged and skips it.
        await Execute(connection, "SELECT pg_advisory_xact_lock(hashtext('sdq.extract:' || @code))", cancellationToken, ("code", request.RoundCode));
        var round = await RoundStore.EnsureAsync(connection, request.RoundCode, request.RoundDate, request.PreviousRoundCode, actor, cancellationToken);
        var stagedMeanwhile = await AlreadyStagedAsync(round.RoundId,
            sources.Where(s => s.Sha256 is not null).Select(s => s.Sha256!).ToArray(), cancellationToken);
        await Execute(connection, "SELECT registry.ensure_round_partitions(@round)", cancellationToken, ("round", round.RoundId));
        long total = 0;
        foreach (var (source, mapping, knownSha, length) in sources)
        {
            if (knownSha is not null && stagedMeanwhile.TryGetValue(knownSha, out var earlier))
            {
                results.Add(earlier with { AlreadyStaged = true, ElapsedMs = 0 });
                continue;
            }

            var watch = Stopwatch.StartNew();
            var fileId = await InsertSourceFileAsync(connection, round, actor, source, mapping, knownSha ?? "0".PadLeft(64, '0'), length,
                cancellationToken);
            using var hash = knownSha is null ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
            var tally = Copy(connection, round, fileId, source, mapping, hash, count =>
            {
                if (count % ProgressEvery == 0)
                {
                    rowsStaged?.Report(total + count);
                }
            }, cancellationToken);
            var rows = tally.Rows;
            total += rows;
            rowsStaged?.Report(total);
            var sha = knownSha ?? Convert.ToHexString(hash!.GetHashAndReset()).ToLowerInvariant();
            try
            {
                await Execute(connection, """
                    UPDATE staging.source_file SET row_count = @rows, elapsed_ms = @ms, sha256 = @sha, school_count = @schools, unparsed = @unparsed
                    WHERE  file_id = @file;
                    INSERT INTO audit.event (actor, action, round_id, object, details)
                    VALUES (@actor, 'extract', @round, @name, @details);
                    """, cancellationToken,
                    ("rows", rows), ("ms", watch.ElapsedMilliseconds), ("sha", sha), ("file", fileId), ("actor", actor), ("round", round.RoundId),
                    ("schools", tally.Schools), ("unparsed", new JsonbValue(JsonSerializer.Serialize(tally.Unparsed))),
                    ("name", source.Name),
                    ("details", new JsonbValue(JsonSerializer.Serialize(new { file_id = fileId, sha256 = sha, layout = mapping.Layout.Name, rows, source.Kind }))));
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                e.Data["sha256"] = sha;
                throw;
            }

            results.Add(new StagedSource(source.Name, source.Kind, mapping.Layout.Name, sha, rows, fileId, false, mapping.ExtraHeaders, source.Encoding,
                watch.ElapsedMilliseconds, tally.Schools, tally.Unparsed));
            _logger.LogInformation("Staged {RowCount} {Layout} rows of {Source} into round {RoundId} in {ElapsedMs} ms",
                rows, mapping.Layout.Name, source.Name, round.RoundId, watch.ElapsedMilliseconds);
        }

        var finishing = Stopwatch.StartNew();
        await Execute(connection, "SELECT registry.index_round_partitions(@round)", cancellationToken, ("round", round.RoundId));
        _logger.LogDebug("Built the key of round {RoundId} in {ElapsedMs} ms", round.RoundId, finishing.ElapsedMilliseconds);
        finishing.Restart();
        await transaction.CommitAsync(cancellationToken);
        _logger.LogDebug("Committed round {RoundId} in {ElapsedMs} ms", round.RoundId, finishing.ElapsedMilliseconds);

        // Statistics are left to autovacuum and to the checks, which analyze the columns they group by before running.
        return (round, results);
    }

    /// <summary>What one COPY saw: rows, distinct school codes, and per field the values that did not parse.</summary>
    private sealed record CopyTally(long Rows, int Schools, IReadOnlyDictionary<string, long> Unparsed);

    private static CopyTally Copy(NpgsqlConnection connection, Round round, int fileId, IRowSource source, HeaderMapping mapping,
        IncrementalHash? hash, Action<long> progress, CancellationToken cancellationToken)
    {
        var fields = mapping.Layout.Fields;
        var isStudent = mapping.Layout == Layouts.Student;
        var table = isStudent ? $"registry.record_version_r{round.RoundId} (record_id, version, " : "registry.school (";
        var columns = string.Join(", ", fields.SelectMany(f => f.HasTypedColumn ? new[] { f.Name + "_raw", f.Name } : [f.Name + "_raw"]));
        using var writer = new BinaryCopyWriter(connection,
            $"COPY {table}round_id, file_id, sheet_no, row_no, {columns}, extra_raw, normalised{(isStudent ? IdentityFactColumns : "")}) FROM STDIN (FORMAT BINARY)");
        var fieldCount = (short)((isStudent ? 12 + RecordFacts.Columns.Count : 6) + fields.Count + fields.Count(f => f.HasTypedColumn));
        var idField = isStudent ? mapping.Layout.IndexOf("id_number") : -1;
        var guardianIdField = isStudent ? mapping.Layout.IndexOf("guardian_id_number") : -1;
        var typedIds = new string?[2];
        var raws = new string?[fields.Count];
        var typeds = new object?[fields.Count];
        // Record ids are the file id in the high half and the row's ordinal in the low half: unique across the
        // database, and assigned without a sequence call per row.
        var recordIdBase = (long)fileId << 32;
        long rows = 0;
        var normalised = new List<string>();
        var unparsed = new long[fields.Count];
        var schools = new HashSet<string>(StringComparer.Ordinal);
        var schoolField = mapping.Layout.IndexOf("school_code");
        foreach (var row in source.Rows(cancellationToken))
        {
            RefuseUnstorable(source, row);
            hash?.AppendData(RowFingerprint(row.Values));
            writer.StartRow(fieldCount);
            if (isStudent)
            {
                writer.WriteInt64(recordIdBase + rows + 1);
                writer.WriteInt32(1);
            }

            writer.WriteInt32(round.RoundId);
            writer.WriteInt32(fileId);
            if (row.Sheet is { } sheet)
            {
                writer.WriteInt16(sheet);
            }
            else
            {
                writer.WriteNull();
            }

            writer.WriteInt32(row.RowNumber);
            normalised.Clear();
            Array.Clear(typedIds);
            for (var i = 0; i < fields.Count; i++)
            {
                var column = mapping.FieldColumns[i];
                var raw = column >= 0 && column < row.Values.Length ? row.Values[column] : null;
                var field = fields[i];
                raws[i] = raw;
                typeds[i] = null;
                if (!field.HasTypedColumn)
                {
                    writer.WriteText(raw);
                    continue;
                }

                var typed = FieldParser.Parse(field, raw);
                typeds[i] = typed;
                if (i == idField || i == guardianIdField)
                {
                    typedIds[i == idField ? 0 : 1] = typed as string;
                }

                // The raw text is kept where it differs from the typed value's own text; NULL there means "received
                // exactly as the typed value" (the views put it back: coalesce(raw, typed)).
                writer.WriteText(isStudent && raw is not null && raw == FieldParser.CanonicalText(field, typed) ? null : raw);
                WriteTyped(writer, field.TypedType, typed);
                if (typed is null && !string.IsNullOrWhiteSpace(raw))
                {
                    unparsed[i]++;
                }
                else if (i == schoolField && typed is string school)
                {
                    schools.Add(school);
                }

                if (FieldParser.IsNormalised(field, raw))
                {
                    normalised.Add(field.Name);
                }
            }

            if (mapping.ExtraColumns.Count > 0)
            {
                var extra = new string?[mapping.ExtraColumns.Count];
                for (var i = 0; i < extra.Length; i++)
                {
                    var column = mapping.ExtraColumns[i];
                    extra[i] = column < row.Values.Length ? row.Values[column] : null;
                }

                writer.WriteTextArray(extra);
            }
            else
            {
                writer.WriteNull();
            }

            if (normalised.Count == 0)
            {
                writer.WriteNull();
            }
            else
            {
                writer.WriteTextArray(normalised);
            }

            if (isStudent)
            {
                WriteIdentityFacts(writer, typedIds[0]);
                WriteIdentityFacts(writer, typedIds[1]);
                WriteRecordFacts(writer, RecordFacts.Of(raws, typeds));
            }

            progress(++rows);
        }

        writer.Complete();
        var unparsedByField = fields.Select((f, i) => (f.Name, Count: unparsed[i])).Where(x => x.Count > 0).ToDictionary(x => x.Name, x => x.Count);
        return new CopyTally(rows, schools.Count, unparsedByField);
    }

    private static readonly string IdentityFactColumns =
        ", id_number_check_ok, id_number_birth, guardian_id_check_ok, guardian_id_birth, " + string.Join(", ", RecordFacts.Columns);

    private static void WriteRecordFacts(BinaryCopyWriter writer, RecordFacts facts)
    {
        // In RecordFacts.Columns order; per row, so no arrays of them.
        WriteTextArray(writer, facts.BlankFields);
        WriteTextArray(writer, facts.BadTextFields);
        WriteBoolean(writer, facts.StudentNoShapeOk);
        WriteBoolean(writer, facts.SchoolCodeShapeOk);
        WriteBoolean(writer, facts.NameShapeOk);
        WriteBoolean(writer, facts.GuardianNameShapeOk);
        WriteBoolean(writer, facts.GuardianPhoneOk);
        writer.WriteText(facts.Name);
    }

    private static void WriteTextArray(BinaryCopyWriter writer, string[]? values)
    {
        if (values is null)
        {
            writer.WriteNull();
        }
        else
        {
            writer.WriteTextArray(values);
        }
    }

    private static void WriteBoolean(BinaryCopyWriter writer, bool? value)
    {
        if (value is { } flag)
        {
            writer.WriteBoolean(flag);
        }
        else
        {
            writer.WriteNull();
        }
    }

    private static void WriteIdentityFacts(BinaryCopyWriter writer, string? id)
    {
        var (checkOk, birth) = ResidentId.Facts(id);
        WriteBoolean(writer, checkOk);

        if (birth is { } date)
        {
            writer.WriteDate(date);
        }
        else
        {
            writer.WriteNull();
        }
    }

    private static void WriteTyped(BinaryCopyWriter writer, TypedColumnType type, object? value)
    {
        switch (value)
        {
            case null:
                writer.WriteNull();
                break;
            case string s:
                writer.WriteText(s);
                break;
            case short n when type == TypedColumnType.SmallInt:
                writer.WriteInt16(n);
                break;
            case DateOnly d when type == TypedColumnType.Date:
                writer.WriteDate(d);
                break;
            case bool b when type == TypedColumnType.Boolean:
                writer.WriteBoolean(b);
                break;
            default:
                throw new InvalidOperationException($"A parsed {value.GetType().Name} does not fit a {type} column.");
        }
    }

    /// <summary>
    /// PostgreSQL text cannot hold the NUL character (a workbook can, escaped as _x0000_, and so can another database):
    /// such a value cannot be kept exactly as received, so the source is refused with the cell to fix.
    /// </summary>
    private static void RefuseUnstorable(IRowSource source, SourceRow row)
    {
        for (var i = 0; i < row.Values.Length; i++)
        {
            if (row.Values[i] is { } value && value.Contains('\0'))
            {
                // A value past the last header is named by its column number.
                var header = i < source.Headers.Count ? source.Headers[i] : (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
                throw new UserErrorException(row.Sheet is { } sheet
                    ? new UserMessage("Staging.NulCharacterInSheet", source.Name, sheet, row.RowNumber, header)
                    : new UserMessage("Staging.NulCharacter", source.Name, row.RowNumber, header));
            }
        }
    }

    /// <summary>Row texts joined with unit and record separators: the fingerprint of a query's rows.</summary>
    private static byte[] RowFingerprint(string?[] values) =>
        Encoding.UTF8.GetBytes(string.Join('\u001f', values.Select(v => v ?? "\u0000")) + "\u001e");

    private static async Task<int> InsertSourceFileAsync(NpgsqlConnection connection, Round round, string actor, IRowSource source,
        HeaderMapping mapping, string sha256, long? length, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            INSERT INTO staging.source_file (round_id, source_kind, file_name, sha256, byte_size, encoding, layout, headers, extra_headers, staged_by)
            VALUES (@round, @kind, @name, @sha, @length, @encoding, @layout, @headers, @extra, @actor)
            RETURNING file_id
            """, connection);
        command.Parameters.AddWithValue("round", round.RoundId);
        command.Parameters.AddWithValue("kind", source.Kind);
        command.Parameters.AddWithValue("name", source.Name);
        command.Parameters.AddWithValue("sha", sha256);
        command.Parameters.AddWithValue("length", (object?)length ?? DBNull.Value);
        command.Parameters.AddWithValue("encoding", (object?)source.Encoding ?? DBNull.Value);
        command.Parameters.AddWithValue("layout", mapping.Layout.Name);
        command.Parameters.AddWithValue("headers", source.Headers.ToArray());
        command.Parameters.AddWithValue("extra", mapping.ExtraHeaders.ToArray());
        command.Parameters.AddWithValue("actor", actor);
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private async Task<Dictionary<string, StagedSource>> AlreadyStagedAsync(int roundId, string[] sha256s, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("""
            SELECT file_name, source_kind, layout, sha256, row_count, file_id, extra_headers, encoding, school_count, unparsed
            FROM   staging.source_file WHERE round_id = @round AND sha256 = ANY(@shas)
            """);
        command.Parameters.AddWithValue("round", roundId);
        command.Parameters.AddWithValue("shas", sha256s);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var found = new Dictionary<string, StagedSource>();
        while (await reader.ReadAsync(cancellationToken))
        {
            found[reader.GetString(3)] = new StagedSource(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetInt64(4), reader.GetInt32(5), true, reader.GetFieldValue<string[]>(6), reader.IsDBNull(7) ? null : reader.GetString(7), 0,
                reader.IsDBNull(8) ? 0 : reader.GetInt32(8), JsonSerializer.Deserialize<Dictionary<string, long>>(reader.GetString(9))!);
        }

        return found;
    }

    private static List<string> ExpandPaths(IReadOnlyList<string> paths)
    {
        if (paths.Count == 0)
        {
            throw new UserErrorException(new UserMessage("Staging.NoExportGiven"));
        }

        var files = new List<string>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                var inFolder = Directory.EnumerateFiles(path)
                    .Where(f => FileExtensions.Contains(Path.GetExtension(f)) && !Path.GetFileName(f).StartsWith('.') && !Path.GetFileName(f).StartsWith("~$", StringComparison.Ordinal))
                    .Order(StringComparer.Ordinal)
                    .ToArray();
                if (inFolder.Length == 0)
                {
                    throw new UserErrorException(new UserMessage("Staging.FolderEmpty", path));
                }

                files.AddRange(inFolder);
            }
            else if (File.Exists(path))
            {
                files.Add(path);
            }
            else
            {
                throw new UserErrorException(new UserMessage("Staging.NoSuchPath", path));
            }
        }

        return files;
    }

    private static async Task Execute(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        foreach (var (name, value) in parameters)
        {
            if (value is JsonbValue json)
            {
                command.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Jsonb) { Value = json.Json });
            }
            else
            {
                command.Parameters.AddWithValue(name, value);
            }
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private sealed record JsonbValue(string Json);
}
