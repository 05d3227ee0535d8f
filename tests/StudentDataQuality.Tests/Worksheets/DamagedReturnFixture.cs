using System.Globalization;
using StudentDataQuality.Application;
using StudentDataQuality.Identifiers;
using StudentDataQuality.Jobs;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Worksheets;

/// <summary>
/// One issued round for the whole corpus of damaged returns (the scenario takes seconds to build; a case takes a fraction
/// of one). A case that takes rows changes its school's worksheet for good (a later return of it is compared with this
/// one), so every such case gets a school of its own; the plan hands them out once, most demanding case first, so it
/// does not depend on the order xunit runs the tests in. Refused files change nothing, so the refusal cases share one
/// school, which no other case gets.
/// </summary>
public sealed class DamagedReturnFixture : IAsyncLifetime
{
    private const string MissingStudent = "a row of a student of the previous round missing from this one (T01)";

    /// <summary>What each case (one test or Theory case of <see cref="DamagedReturnTests"/>) needs of its school's worksheet.</summary>
    private static readonly (string Case, string Need, Func<SchoolSheet, bool> Fits)[] Needs =
    [
        ("dates-1900", "a row whose only problem is a birth date that differs from the ID number", s => s.Fixes(FixKind.BirthDate).Any()),
        ("dates-1904", "a row whose only problem is a birth date that differs from the ID number", s => s.Fixes(FixKind.BirthDate).Any()),
        ("phone-as-number", "a row whose only problem is the guardian phone", s => s.Fixes(FixKind.Phone).Any()),
        ("phone-full-width", "a row whose only problem is the guardian phone", s => s.Fixes(FixKind.Phone).Any()),
        ("id-as-number", "a row that shows its ID number, and another row to correct",
            s => s.Rows.Any(r => r.Shows("id_number") && s.Fixes().Any(f => f.Row != r))),
        ("re-ordered", "two rows to correct", s => s.Fixes().Count >= 2),
        ("phantom-rows", "two rows to correct", s => s.Fixes().Count >= 2),
        ("locked-cells", "three rows, one of them to correct", s => s.Rows.Count >= 3 && s.Fixes().Count >= 1),
        ("formula", "two rows, one of them to correct", s => s.Rows.Count >= 2 && s.Fixes().Count >= 1),
        ("deleted-rows", "two rows, one to correct", s => s.Rows.Count >= 2 && s.Fixes().Count >= 1),
        ("merged-cells", "two rows, one to correct", s => s.Rows.Count >= 2 && s.Fixes().Count >= 1),
        ("moved-columns", "a row to correct", s => s.Fixes().Count >= 1),
        ("mixed-action", "a row to correct", s => s.Fixes().Count >= 1),
        ("same-bytes", "a row to correct", s => s.Fixes().Count >= 1),
        ("refusals", "a row to correct (shared by every refused file)", s => s.Fixes().Count >= 1),
        ("missing-student-corrected", MissingStudent, s => s.Rows.Any(r => r.MissingNow)),
        ("missing-student-removed", MissingStudent, s => s.Rows.Any(r => r.MissingNow)),
        ("missing-student-confirmed", MissingStudent, s => s.Rows.Any(r => r.MissingNow)),
        ("added-rows", "a row", s => s.Rows.Count >= 1),
        ("explanation-required", "two rows", s => s.Rows.Count >= 2),
        ("stale-issue", "a row", s => s.Rows.Count >= 1),
    ];

    private readonly DatabaseFixture _database = new();
    private readonly TempFolder _temp = new();
    private Dictionary<string, SchoolSheet> _plan = [];
    private Dictionary<string, string> _unmet = [];

    public IngestScenario Scenario { get; private set; } = null!;

    /// <summary>Every issued worksheet of the round, as the database and the file say.</summary>
    public IReadOnlyList<SchoolSheet> Sheets { get; private set; } = [];

    public string Folder => _temp.Path;

    /// <summary>The test database's connection string, password included (for a process of the program run by a test).</summary>
    public string ConnectionString => _database.ConnectionString;

    public async Task InitializeAsync()
    {
        await _database.InitializeAsync();
        Scenario = await IngestScenario.CreateAsync(_database.DataSource, _temp.Path, "damaged");
        Sheets = await SheetsAsync();
        (_plan, _unmet) = Plan(Sheets);
    }

    public async Task DisposeAsync()
    {
        await _database.DisposeAsync();
        _temp.Dispose();
    }

    /// <summary>The school the plan gave this case.</summary>
    public SchoolSheet Claim(string caseName) =>
        _plan.TryGetValue(caseName, out var sheet)
            ? sheet
            : throw new InvalidOperationException(_unmet.TryGetValue(caseName, out var need)
                ? $"The scenario has no school left for the case '{caseName}', which needs {need}."
                : $"The case '{caseName}' is not in the plan of {nameof(DamagedReturnFixture)}.");

    /// <summary>Most demanding case first; of the schools that fit, the one that fits the fewest other cases.</summary>
    private static (Dictionary<string, SchoolSheet>, Dictionary<string, string>) Plan(IReadOnlyList<SchoolSheet> sheets)
    {
        var plan = new Dictionary<string, SchoolSheet>(StringComparer.Ordinal);
        var unmet = new Dictionary<string, string>(StringComparer.Ordinal);
        var taken = new HashSet<string>(StringComparer.Ordinal);
        int Demand(SchoolSheet sheet) => Needs.Count(n => n.Fits(sheet));
        foreach (var (name, need, fits) in Needs.OrderBy(n => sheets.Count(n.Fits)).ThenBy(n => Array.IndexOf(Needs, n)))
        {
            var school = sheets.Where(s => !taken.Contains(s.File.SchoolCode) && fits(s))
                .OrderBy(Demand).ThenBy(s => s.File.SchoolCode, StringComparer.Ordinal).FirstOrDefault();
            if (school is null)
            {
                unmet[name] = need;
                continue;
            }

            taken.Add(school.File.SchoolCode);
            plan[name] = school;
        }

        return (plan, unmet);
    }

    private async Task<IReadOnlyList<SchoolSheet>> SheetsAsync()
    {
        var rows = new Dictionary<string, List<SheetRow>>(StringComparer.Ordinal);
        await using (var command = Scenario.DataSource.CreateCommand("""
            SELECT w.school_code, wr.row_key, wr.record_id, wr.fields, wr.issued_values,
                   array(SELECT f.rule_id || ':' || coalesce(f.field, '') FROM quality.finding f
                         WHERE f.round_id = wr.round_id AND f.finding_id = ANY(wr.finding_ids) ORDER BY 1),
                   r.id_number_raw
            FROM   exchange.worksheet w
            JOIN   registry.round d ON d.round_id = w.round_id
            JOIN   exchange.worksheet_row wr ON wr.worksheet_id = w.worksheet_id
            LEFT   JOIN registry.current_record r ON r.round_id = w.round_id AND r.record_id = wr.record_id
            WHERE  d.code = @round
            """))
        {
            command.Parameters.AddWithValue("round", Scenario.Round);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var fields = reader.GetFieldValue<string[]>(3);
                var values = reader.GetFieldValue<string?[]>(4);
                var findings = reader.GetFieldValue<string[]>(5).Select(f => f.Split(':')).Select(p => (p[0], p[1])).ToList();
                var school = reader.GetString(0);
                if (!rows.TryGetValue(school, out var list))
                {
                    rows[school] = list = [];
                }

                var issued = fields.Zip(values).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
                var id = reader.IsDBNull(6) ? null : reader.GetString(6);
                list.Add(new SheetRow(reader.GetString(1), reader.GetInt64(2), 0, issued, findings, id));
            }
        }

        var sheets = new List<SchoolSheet>();
        foreach (var file in Scenario.Files.OrderBy(f => f.SchoolCode, StringComparer.Ordinal))
        {
            var layout = IngestScenario.Read(Scenario.Issued(file));
            var excelRows = layout.Rows.ToDictionary(r => r.RowKey, r => r.ExcelRow, StringComparer.Ordinal);
            sheets.Add(new SchoolSheet(file, layout.Meta.Columns.Where(c => c.IsField).Select(c => c.FieldName!).ToArray(),
                rows.GetValueOrDefault(file.SchoolCode, []).Select(r => r with { ExcelRow = excelRows[r.RowKey] })
                    .OrderBy(r => r.ExcelRow).ToArray()));
        }

        return sheets;
    }
}

public enum FixKind
{
    /// <summary>The row's only problem is the guardian phone (F11): a valid mobile makes it clean.</summary>
    Phone,

    /// <summary>The row's only problem is a birth date unlike the ID number's (C01): the ID's date makes it clean.</summary>
    BirthDate,

    /// <summary>The row's only problem is the ID number's check character (F03): the computed one makes it clean.</summary>
    CheckCharacter,

    /// <summary>A value the row shows, changed: applied, whatever the re-check then finds.</summary>
    Other,
}

/// <summary>A correction a registrar could type into a row: the field, the new value, and whether the record is clean after it.</summary>
public sealed record Fix(SheetRow Row, FixKind Kind, string Field, string Value)
{
    public string Marker => WorksheetLayout.FieldMarkerPrefix + Field;

    public bool Clean => Kind != FixKind.Other;
}

/// <summary>One issued row: where it is, the values it was issued with (every field of the sheet), the findings it showed.</summary>
public sealed record SheetRow(string RowKey, long RecordId, int ExcelRow, IReadOnlyDictionary<string, string?> Issued,
    IReadOnlyList<(string Rule, string Field)> Findings, string? IdNumber)
{
    /// <summary>A student of the previous round missing from this one (T01): the row shows the previous round's record.</summary>
    public bool MissingNow => Findings.Any(f => f.Rule == "T01");

    /// <summary>Whether the row shows the field: it was issued with a value, or a finding names it.</summary>
    public bool Shows(string field) => Issued.GetValueOrDefault(field) is not null || Findings.Any(f => f.Field == field);

    /// <summary>The birth date the row's ID number says, when it is a well-formed resident ID.</summary>
    public string? IdBirthDate =>
        IdNumber is { Length: 18 } id && id[..17].All(char.IsAsciiDigit) &&
        DateOnly.TryParseExact(id.AsSpan(6, 8), "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _)
            ? id.Substring(6, 8)
            : null;

    private bool Only(string rule, string field) => Findings.Count > 0 && Findings.All(f => f == (rule, field));

    /// <summary>
    /// A correction for the row, if it has one: the real fix where the row's only problem has one, else a shown value
    /// changed. <paramref name="variant"/> makes the values of different rows differ.
    /// </summary>
    public Fix? Fix(int variant = 0)
    {
        var phone = string.Create(CultureInfo.InvariantCulture, $"138001380{variant % 100:00}");
        if (Only("F11", "guardian_phone"))
        {
            return new Fix(this, FixKind.Phone, "guardian_phone", phone);
        }

        if (Only("C01", "birth_date") && IdBirthDate is { } birth)
        {
            return new Fix(this, FixKind.BirthDate, "birth_date", birth);
        }

        if (Only("F03", "id_number") && IdNumber is { Length: 18 } wrong)
        {
            return new Fix(this, FixKind.CheckCharacter, "id_number", wrong[..17] + ResidentId.ComputeCheckCharacter(wrong.AsSpan(0, 17)));
        }

        var other = new (string Field, string Value)[]
        {
            ("guardian_phone", phone),
            ("address", string.Create(CultureInfo.InvariantCulture, $"幸福路{variant + 1}号")),
            ("guardian_name", "王" + "芳丽娜静敏燕艳娟霞红"[variant % 10]),
            ("birth_date", IdBirthDate ?? new DateOnly(2015, 3, 1).AddDays(variant).ToString("yyyyMMdd", CultureInfo.InvariantCulture)),
        };
        return other.Where(o => Shows(o.Field) && ReturnedWorkbookReader.Normalise(Issued.GetValueOrDefault(o.Field)) != o.Value)
            .Select(o => new Fix(this, FixKind.Other, o.Field, o.Value)).FirstOrDefault();
    }
}

/// <summary>A school's issued worksheet: the file, the field columns, the rows in Excel order.</summary>
public sealed record SchoolSheet(IssuedFile File, IReadOnlyList<string> Fields, IReadOnlyList<SheetRow> Rows)
{
    /// <summary>A correction for each row that has one, each value distinct, in Excel row order.</summary>
    public IReadOnlyList<Fix> Fixes() => Rows.Select((r, i) => r.Fix(i)).OfType<Fix>().ToArray();

    public IReadOnlyList<Fix> Fixes(FixKind kind) => Fixes().Where(f => f.Kind == kind).ToArray();
}
