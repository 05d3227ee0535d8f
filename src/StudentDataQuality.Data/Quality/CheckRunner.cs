using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;
using StudentDataQuality.Data.Staging;

namespace StudentDataQuality.Data.Quality;

/// <summary>What one check run found.</summary>
public sealed record CheckRunResult(long RunId, Round Round, IReadOnlyDictionary<string, long> FindingsByRule, IReadOnlyDictionary<int, long> StageMs);

/// <summary>
/// Runs the rule catalogue over a round, stage by stage, in the database: each rule is one INSERT … SELECT of its
/// failing records into quality.finding. After stages 1 and 2 the values that failed are set aside (failed_field),
/// and later stages read the round through checked_record, which hides them: one bad value, one finding. The run,
/// the rule versions and the counts per rule are recorded; a full run supersedes the round's earlier open findings,
/// and a finding seen before (same rule, school, student and field, this round or the previous) keeps its first
/// round.
/// </summary>
public sealed class CheckRunner
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly ILogger _logger;

    public CheckRunner(NpgsqlDataSource dataSource, ILogger<CheckRunner>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        _dataSource = dataSource;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Writes the catalogue into quality.rule (and each new rule text into quality.rule_version).</summary>
    public static async Task SyncCatalogAsync(NpgsqlConnection connection, IReadOnlyList<Rule> rules, CancellationToken cancellationToken)
    {
        foreach (var rule in rules)
        {
            await using var known = new NpgsqlCommand("SELECT sha256 FROM quality.rule_version WHERE rule_id = @id AND version = @v", connection);
            known.Parameters.AddWithValue("id", rule.Id);
            known.Parameters.AddWithValue("v", rule.Version);
            var sha = await known.ExecuteScalarAsync(cancellationToken) as string;
            if (sha is not null && sha != rule.Sha256)
            {
                throw new InvalidOperationException(
                    $"Rule {rule.Id} version {rule.Version} was changed after it was used. Give the changed rule a new version in its header.");
            }

            await using var upsert = new NpgsqlCommand("""
                INSERT INTO quality.rule (rule_id, stage, severity, fields, title_en, title_zh, fix_en, fix_zh, version)
                VALUES (@id, @stage, @severity, @fields, @ten, @tzh, @fen, @fzh, @v)
                ON CONFLICT (rule_id) DO UPDATE SET stage = excluded.stage, severity = excluded.severity, fields = excluded.fields,
                    title_en = excluded.title_en, title_zh = excluded.title_zh, fix_en = excluded.fix_en, fix_zh = excluded.fix_zh,
                    version = excluded.version;
                INSERT INTO quality.rule_version (rule_id, version, sha256, sql) VALUES (@id, @v, @sha, @sql)
                ON CONFLICT (rule_id, version) DO NOTHING;
                """, connection);
            upsert.Parameters.AddWithValue("id", rule.Id);
            upsert.Parameters.AddWithValue("stage", (short)rule.Stage);
            upsert.Parameters.AddWithValue("severity", rule.Severity);
            upsert.Parameters.AddWithValue("fields", rule.Fields.ToArray());
            upsert.Parameters.AddWithValue("ten", rule.TitleEn);
            upsert.Parameters.AddWithValue("tzh", rule.TitleZh);
            upsert.Parameters.AddWithValue("fen", rule.FixEn);
            upsert.Parameters.AddWithValue("fzh", rule.FixZh);
            upsert.Parameters.AddWithValue("v", rule.Version);
            upsert.Parameters.AddWithValue("sha", rule.Sha256);
            upsert.Parameters.AddWithValue("sql", rule.Sql);
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>Runs every rule over the whole round (scope 'full').</summary>
    public async Task<CheckRunResult> RunAsync(string roundCode, string actor, IReadOnlyList<Rule>? rules = null, CancellationToken cancellationToken = default)
    {
        rules ??= RuleCatalog.All;
        var round = await RoundStore.FindAsync(_dataSource, roundCode, cancellationToken)
            ?? throw new UserErrorException($"Round {roundCode} does not exist. Extract its registry export first (sdq extract --round {roundCode} …).");
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await Execute(connection, "SELECT pg_advisory_xact_lock(hashtext('sdq.check:' || @code))", cancellationToken, ("code", roundCode));
        // The duplicate and cross-round rules group whole rounds by text keys (a million groups and more): with the
        // default memory their hash aggregates spill to disk and take several times as long.
        await Execute(connection, "SET LOCAL work_mem = '1GB'", cancellationToken);
        await SyncCatalogAsync(connection, rules, cancellationToken);
        await Execute(connection, "SELECT registry.ensure_round_partitions(@round)", cancellationToken, ("round", round.RoundId));
        // Fresh statistics for what the rules group and join by: without them the planner takes a round for a few
        // rows and picks nested loops (minutes instead of seconds on the cross-record rules).
        var previous = round.PreviousRoundId;
        foreach (var partition in previous is { } before ? new[] { round.RoundId, before } : [round.RoundId])
        {
            await Execute(connection, $"ANALYZE registry.record_version_r{partition}", cancellationToken);
        }

        await Execute(connection, "ANALYZE registry.school", cancellationToken);
        var runId = await ScalarAsync<long>(connection, """
            INSERT INTO quality.check_run (round_id, scope, actor, rule_versions)
            VALUES (@round, 'full', @actor, @versions) RETURNING run_id
            """, cancellationToken, ("round", round.RoundId), ("actor", actor),
            ("versions", new Jsonb(JsonSerializer.Serialize(rules.ToDictionary(r => r.Id, r => r.Version)))));
        await Execute(connection, """
            UPDATE quality.finding SET status = 'superseded', closed_run_id = @run WHERE round_id = @round AND status = 'open'
            """, cancellationToken, ("run", runId), ("round", round.RoundId));
        await Execute(connection, "CREATE TEMP TABLE failed_field (record_id bigint NOT NULL, field text NOT NULL) ON COMMIT DROP", cancellationToken);
        await Execute(connection,
            "CREATE TEMP TABLE rule_result (record_id bigint, school_code text, field text, value text, detail text, severity text) ON COMMIT DROP",
            cancellationToken);
        await Execute(connection, SqlScripts.Load("checks/checked_record.sql"), cancellationToken);

        var counts = new Dictionary<string, long>();
        var stageMs = new Dictionary<int, long>();
        var schoolYearStart = new DateOnly(round.SchoolYear, 9, 1);
        foreach (var stage in rules.GroupBy(r => r.Stage).OrderBy(g => g.Key))
        {
            var watch = Stopwatch.StartNew();
            foreach (var rule in stage)
            {
                var ruleWatch = Stopwatch.StartNew();
                counts[rule.Id] = await RunRuleAsync(connection, rule, round, previous, schoolYearStart, runId, cancellationToken);
                _logger.LogDebug("Rule {RuleId}: {FindingCount} findings in {ElapsedMs} ms", rule.Id, counts[rule.Id], ruleWatch.ElapsedMilliseconds);
            }

            var invalidating = stage.Where(r => r.Invalidates).Select(r => r.Id).ToArray();
            if (invalidating.Length > 0)
            {
                await Execute(connection, """
                    INSERT INTO failed_field (record_id, field)
                    SELECT record_id, field FROM quality.finding
                    WHERE  round_id = @round AND run_id = @run AND rule_id = ANY(@rules) AND record_id IS NOT NULL
                    """, cancellationToken, ("round", round.RoundId), ("run", runId), ("rules", invalidating));
                await Execute(connection, "ANALYZE failed_field", cancellationToken);
            }

            stageMs[stage.Key] = watch.ElapsedMilliseconds;
            _logger.LogInformation("Stage {Stage} of round {RoundId}: {RuleCount} rules in {ElapsedMs} ms",
                stage.Key, round.RoundId, stage.Count(), watch.ElapsedMilliseconds);
        }

        await Execute(connection, """
            UPDATE quality.check_run SET finished_at = now(), counts = @counts, stage_ms = @ms WHERE run_id = @run;
            INSERT INTO audit.event (actor, action, round_id, object, details) VALUES (@actor, 'check', @round, 'round', @counts);
            """, cancellationToken, ("counts", new Jsonb(JsonSerializer.Serialize(counts))),
            ("ms", new Jsonb(JsonSerializer.Serialize(stageMs))), ("run", runId), ("actor", actor), ("round", round.RoundId));
        await transaction.CommitAsync(cancellationToken);
        return new CheckRunResult(runId, round, counts, stageMs);
    }

    private static async Task<long> RunRuleAsync(NpgsqlConnection connection, Rule rule, Round round, int? previous, DateOnly schoolYearStart,
        long runId, CancellationToken cancellationToken)
    {
        // The rule's own query (the program's embedded SQL, never input; values are parameters) runs as a plain SELECT,
        // so that PostgreSQL may scan the round with parallel workers (an INSERT … SELECT never does), and with nested
        // loops off: the rules join and group whole rounds, and checked_record's CASE columns leave the planner guessing
        // a handful of rows, for which it picks nested loops (X02 took 20 s instead of 0.4 s on 200,000 records).
        // Its failing records (few) come back here and go into a scratch table; then the findings are written with
        // normal planning: looking up a few records by key is what nested loops are for.
        var failing = new List<(long? RecordId, string? SchoolCode, string? Field, string? Value, string? Detail, string? Severity)>();
        await Execute(connection, "SET LOCAL enable_nestloop = off", cancellationToken);
        try
        {
            await using var query = new NpgsqlCommand($"SELECT * FROM (\n{rule.Sql}\n) q", connection) { CommandTimeout = 0 };
            AddRuleParameters(query.Parameters, rule, round, previous, schoolYearStart, runId);
            await using var reader = await query.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                failing.Add((reader.IsDBNull(0) ? null : reader.GetInt64(0), Text(reader, 1), Text(reader, 2), Text(reader, 3), Text(reader, 4),
                    Text(reader, 5)));
            }
        }
        catch (PostgresException e)
        {
            throw new InvalidOperationException($"Rule {rule.Id} failed: {e.MessageText} ({e.SqlState}) at position {e.Position} of its query.", e);
        }

        await Execute(connection, "SET LOCAL enable_nestloop = on", cancellationToken);
        await using (var import = await connection.BeginBinaryImportAsync(
            "COPY rule_result (record_id, school_code, field, value, detail, severity) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            foreach (var row in failing)
            {
                await import.StartRowAsync(cancellationToken);
                await import.WriteAsync(row.RecordId, NpgsqlDbType.Bigint, cancellationToken);
                await import.WriteAsync(row.SchoolCode, NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(row.Field, NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(row.Value, NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(row.Detail, NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(row.Severity, NpgsqlDbType.Text, cancellationToken);
            }

            await import.CompleteAsync(cancellationToken);
        }

        await using var batch = new NpgsqlBatch(connection) { Timeout = 0 };
        var findings = new NpgsqlBatchCommand("""
            INSERT INTO quality.finding (round_id, run_id, rule_id, rule_version, severity, record_id, record_version, school_code,
                                         student_no, field, value, detail, fingerprint, first_seen_round_id)
            SELECT @round_id, @run_id, @rule_id, @rule_version, coalesce(q.severity, @rule_severity), q.record_id, c.version,
                   coalesce(c.school_code, q.school_code), c.student_no, q.field, q.value, q.detail, fp.fingerprint,
                   coalesce((SELECT min(p.first_seen_round_id) FROM quality.finding p
                             WHERE p.round_id IN (@round_id, @previous_round_id) AND p.fingerprint = fp.fingerprint), @round_id)
            FROM   rule_result q
            LEFT   JOIN registry.current_record c ON c.round_id IN (@round_id, @previous_round_id) AND c.record_id = q.record_id
            CROSS  JOIN LATERAL (SELECT concat_ws('|', @rule_id, coalesce(c.school_code, q.school_code), c.student_no, q.field) AS fingerprint) fp
            """);
        AddRuleParameters(findings.Parameters, rule, round, previous, schoolYearStart, runId);
        batch.BatchCommands.Add(findings);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("TRUNCATE rule_result"));
        await batch.ExecuteNonQueryAsync(cancellationToken);
        return findings.RecordsAffected;
    }

    private static string? Text(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static void AddRuleParameters(NpgsqlParameterCollection parameters, Rule rule, Round round, int? previous, DateOnly schoolYearStart,
        long runId)
    {
        parameters.AddWithValue("round_id", round.RoundId);
        parameters.Add(new NpgsqlParameter("previous_round_id", NpgsqlDbType.Integer) { Value = (object?)previous ?? DBNull.Value });
        parameters.AddWithValue("round_date", round.RoundDate);
        parameters.AddWithValue("school_year_start", schoolYearStart);
        parameters.AddWithValue("province", "23");
        parameters.AddWithValue("run_id", runId);
        parameters.AddWithValue("rule_id", rule.Id);
        parameters.AddWithValue("rule_version", rule.Version);
        parameters.AddWithValue("rule_severity", rule.Severity);
    }

    private static async Task Execute(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(connection, sql, parameters);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(connection, sql, parameters);
        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, (string Name, object Value)[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        foreach (var (name, value) in parameters)
        {
            command.Parameters.Add(value is Jsonb json
                ? new NpgsqlParameter(name, NpgsqlDbType.Jsonb) { Value = json.Text }
                : new NpgsqlParameter(name, value));
        }

        return command;
    }

    private sealed record Jsonb(string Text);
}
