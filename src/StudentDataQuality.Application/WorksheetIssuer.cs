using System.Globalization;
using System.Security.Cryptography;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Files;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Data;
using StudentDataQuality.Files;
using StudentDataQuality.Records;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Application;

/// <summary>The server's worksheet signing key and its id (which travels with every signature, so keys can rotate).</summary>
public sealed record SigningKey(byte[] Key, string KeyId)
{
    public static SigningKey From(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length < RowSignature.MinimumKeyBytes)
        {
            throw new UserErrorException(new UserMessage("Issue.SigningKeyShort", key.Length, RowSignature.MinimumKeyBytes));
        }

        return new SigningKey(key, "k" + Convert.ToHexString(SHA256.HashData(key))[..8].ToLowerInvariant());
    }
}

/// <summary>What to issue, and how.</summary>
public sealed record WorksheetRequest(string RoundCode, string OutputDirectory, string Actor)
{
    public string? School { get; init; }
    public string? District { get; init; }
    public WorksheetLanguage Language { get; init; } = WorksheetLanguage.Chinese;
    /// <summary>The date by which schools return their worksheets; default two weeks after issuing.</summary>
    public DateOnly? Deadline { get; init; }
    public string Contact { get; init; } = "";
    /// <summary>Workbooks written at once; default the machine's cores.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// Skip a school whose newest worksheet shows exactly its open findings now (a job run twice issues once). Off for
    /// the command line, where asking again means issuing again.
    /// </summary>
    public bool OnlyChanged { get; init; }

    /// <summary>Write manifest.csv (off for a job issuing one school into a folder that other jobs share).</summary>
    public bool Manifest { get; init; } = true;

    /// <summary>The portal's public address: each problem cell's note then names its rule's page (none: no address).</summary>
    public RuleHelp? RuleHelp { get; init; }
}

/// <summary>One line of the manifest: a school's workbook (and how long it took to make and keep).</summary>
public sealed record IssuedFile(string SchoolCode, string SchoolName, string DistrictCode, string RelativePath, string Sha256, int IssueNumber,
    int Rows, int Errors, int Warnings, long ElapsedMs = 0);

/// <summary>
/// Issues the problem worksheets of a round: one workbook per school with open findings, in a folder per district,
/// written in parallel as the schools stream in from the database (memory stays flat in the number of schools); the
/// issued snapshot of every row is kept with the file's sha256 and an audit entry. A manifest (manifest.csv) lists
/// every file. Re-issuing a school gives the next issue number with the problems open now.
/// </summary>
public sealed class WorksheetIssuer(NpgsqlDataSource dataSource, SigningKey key, ILogger<WorksheetIssuer>? logger = null)
{
    private readonly WorksheetStore _store = new(dataSource);
    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;
    private static readonly IReadOnlyDictionary<string, Rule> Rules = RuleCatalog.All.ToDictionary(r => r.Id);

    public async Task<IReadOnlyList<IssuedFile>> IssueAsync(WorksheetRequest request, IProgress<int>? schoolsDone = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var round = await RoundStore.FindAsync(dataSource, request.RoundCode, cancellationToken)
            ?? throw new UserErrorException(new UserMessage("Issue.RoundNotFound", request.RoundCode));
        OwnerOnly.CreateDirectory(request.OutputDirectory);
        var deadline = request.Deadline ?? DateOnly.FromDateTime(DateTime.Today).AddDays(14);
        // A practice database's worksheets say so in their title line and _meta (docs/training.md).
        var practice = await StudentDataQuality.Data.Training.Practice.FindAsync(dataSource, cancellationToken) is not null;
        var issued = new List<IssuedFile>();
        var channel = Channel.CreateBounded<SchoolProblems>(new BoundedChannelOptions(Math.Max(1, request.Workers) * 2) { SingleWriter = true });
        // A worker that fails stops the others and the reading (else the reading would wait forever on a full queue);
        // its error is the one that surfaces.
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var workers = Enumerable.Range(0, Math.Max(1, request.Workers)).Select(_ => Task.Run(async () =>
        {
            try
            {
                await foreach (var school in channel.Reader.ReadAllAsync(failed.Token))
                {
                    // Two jobs for one school at once (a retry beside a slow first run) take turns, so the second finds the
                    // first's worksheet and issues nothing.
                    await using var turn = request.OnlyChanged ? await _store.LockSchoolAsync(round.RoundId, school.SchoolCode, failed.Token) : null;
                    if (request.OnlyChanged && await _store.IsUpToDateAsync(round.RoundId, school.SchoolCode, failed.Token))
                    {
                        continue;
                    }

                    var file = await IssueSchoolAsync(round, school, request, deadline, practice, failed.Token);
                    lock (issued)
                    {
                        issued.Add(file);
                        schoolsDone?.Report(issued.Count);
                    }
                }
            }
            catch
            {
                await failed.CancelAsync();
                throw;
            }
        }, failed.Token)).ToList();
        try
        {
            await foreach (var school in _store.OpenProblemsAsync(round, request.School, request.District, failed.Token))
            {
                await channel.Writer.WriteAsync(school, failed.Token);
            }
        }
        catch (OperationCanceledException) when (failed.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // A worker failed: its exception is thrown below.
        }
        finally
        {
            channel.Writer.Complete();
        }

        await Task.WhenAll(workers);
        issued.Sort((a, b) => string.CompareOrdinal(a.SchoolCode, b.SchoolCode));
        if (request.Manifest)
        {
            WriteManifest(Path.Combine(request.OutputDirectory, "manifest.csv"), issued);
        }
        _logger.LogInformation("Issued {WorkbookCount} worksheets of round {RoundId}", issued.Count, round.RoundId);
        return issued;
    }

    private async Task<IssuedFile> IssueSchoolAsync(Round round, SchoolProblems school, WorksheetRequest request, DateOnly deadline, bool practice,
        CancellationToken cancellationToken)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var issueNumber = await _store.NextIssueNumberAsync(round.RoundId, school.SchoolCode, cancellationToken);
        // Each row shows its own fields only; a column that another row needs stays empty there (and is issued as
        // nothing): the worksheet carries just what is needed to fix each row.
        var rows = school.Records.Select(Row).ToList();
        var document = RowSignature.SignRows(key.Key, new WorksheetDocument
        {
            WorksheetId = Guid.NewGuid(), RoundId = round.RoundId, RoundCode = round.Code, SchoolCode = school.SchoolCode,
            SchoolName = school.SchoolName, IssueNumber = issueNumber, Deadline = deadline, GeneratedAt = DateTimeOffset.UtcNow, KeyId = key.KeyId,
            Contact = request.Contact, Fields = WorksheetFields.InLayoutOrder(rows.SelectMany(r => r.Values.Keys)), Rows = rows,
            Practice = practice,
        });
        var versions = school.Records.ToDictionary(r => r.RecordId.ToString(CultureInfo.InvariantCulture), r => r.RecordVersion);

        using var buffer = new MemoryStream();
        WorkbookWriter.Write(document, buffer, request.Language, request.RuleHelp);
        var bytes = buffer.ToArray();
        var folder = Path.Combine(request.OutputDirectory, SafeFolder(school.DistrictCode, school.DistrictName));
        OwnerOnly.CreateDirectory(folder);
        var fileName = WorkbookWriter.FileName(document);
        var path = Path.Combine(folder, fileName);
        // Written whole, then renamed into place: a process killed mid-write leaves a .partial file, never a truncated workbook
        // under the worksheet's name (its retry issues the same file name again, since nothing was saved).
        // A write cut short (a full disk, or the issue cancelled because another school's workbook failed) takes its .partial
        // file away with it.
        try
        {
            await OwnerOnly.WriteAllBytesAsync(path + ".partial", bytes, cancellationToken);
            File.Move(path + ".partial", path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or UnauthorizedAccessException)
        {
            File.Delete(path + ".partial");
            throw;
        }
        var sha = Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();
        var errors = document.Rows.Sum(r => r.Problems.Count(p => p.Severity == ProblemSeverity.Error));
        var warnings = document.Rows.Sum(r => r.Problems.Count(p => p.Severity == ProblemSeverity.Warning));
        await _store.SaveAsync(new IssuedWorksheet(document.WorksheetId, round.RoundId, school.SchoolCode, issueNumber,
            request.Language == WorksheetLanguage.English ? "en" : "zh", fileName, sha, bytes.Length, key.KeyId, document.TemplateVersion, errors, warnings,
            deadline, request.Actor,
            document.Rows.Select(r => new IssuedRow(r.RowKey, long.Parse(r.RowKey, CultureInfo.InvariantCulture), versions[r.RowKey], document.Fields, RowSignature.IssuedValues(document.Fields, r), r.Problems.Select(p => p.FindingId).ToList(), r.Signature)).ToList()),
            cancellationToken);
        return new IssuedFile(school.SchoolCode, school.SchoolName, school.DistrictCode, Path.GetRelativePath(request.OutputDirectory, path), sha,
            issueNumber, document.Rows.Count, errors, warnings, watch.ElapsedMilliseconds);
    }

    /// <summary>
    /// A record as a worksheet row. The fields it shows: the field of each finding, and for the rules that relate values
    /// to one another (stage 3 on), the other fields the rule reads (the ID number beside a birth date that disagrees with
    /// it), so the registrar can fix whichever is wrong.
    /// </summary>
    private static WorksheetRow Row(ProblemRecord record)
    {
        var shown = new HashSet<string>(StringComparer.Ordinal);
        foreach (var finding in record.Findings)
        {
            shown.Add(finding.Field);
            if (Rules.TryGetValue(finding.RuleId, out var rule) && rule.Stage >= RuleStage.Consistency)
            {
                shown.UnionWith(rule.Fields);
            }
        }

        shown.RemoveWhere(f => WorksheetFields.NotCorrectable.Contains(f) || Layouts.Student.Fields.All(x => x.Name != f));
        return new WorksheetRow
        {
            RowKey = record.RecordId.ToString(CultureInfo.InvariantCulture),
            StudentNo = record.RawValues.GetValueOrDefault("student_no"),
            Grade = record.RawValues.GetValueOrDefault("grade"),
            ClassName = record.RawValues.GetValueOrDefault("class_name"),
            Name = record.RawValues.GetValueOrDefault("name"),
            Values = shown.ToDictionary(f => f, f => record.RawValues.GetValueOrDefault(f)),
            Problems = record.Findings.Select(Problem).ToList(),
        };
    }

    private static WorksheetProblem Problem(OpenFinding finding)
    {
        var rule = Rules.GetValueOrDefault(finding.RuleId);
        return new WorksheetProblem
        {
            FindingId = finding.FindingId, RuleId = finding.RuleId,
            Severity = finding.Severity == "error" ? ProblemSeverity.Error : ProblemSeverity.Warning,
            Field = finding.Field, Value = finding.Value, Detail = finding.Detail,
            TitleZh = rule?.TitleZh ?? finding.RuleId, TitleEn = rule?.TitleEn ?? finding.RuleId,
            FixZh = rule?.FixZh ?? "", FixEn = rule?.FixEn ?? "",
        };
    }

    /// <summary>A district's folder: its code and name, made safe as a file name as the workbooks' names are.</summary>
    private static string SafeFolder(string code, string name) =>
        string.IsNullOrEmpty(code) ? "no-district" : WorkbookWriter.FileNamePart($"{code}_{name}", 80);

    private static void WriteManifest(string path, IReadOnlyList<IssuedFile> files)
    {
        using var csv = CsvTableWriter.Create(path);
        csv.WriteRow("school_code", "school_name", "district_code", "file", "sha256", "issue", "rows", "errors", "warnings");
        foreach (var f in files)
        {
            csv.WriteRow(f.SchoolCode, f.SchoolName, f.DistrictCode, f.RelativePath, f.Sha256, f.IssueNumber, f.Rows, f.Errors, f.Warnings);
        }
    }
}
