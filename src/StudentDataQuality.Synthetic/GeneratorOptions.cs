namespace StudentDataQuality.Synthetic;

/// <summary>How the CSV files of the synthetic province are encoded.</summary>
public enum ExportEncoding
{
    Utf8,
    Utf8Bom,
    Gb18030,
}

/// <summary>Which files carry the student rows: CSV, a streamed XLSX workbook, or both (in separate folders).</summary>
public enum ExportFormat
{
    Csv,
    Xlsx,
    Both,
}

/// <summary>What <see cref="ProvinceGenerator.Generate"/> produces. Same options give byte-identical files.</summary>
public sealed record GeneratorOptions
{
    public required int Students { get; init; }

    public required int Schools { get; init; }

    public required string OutputDirectory { get; init; }

    public int Seed { get; init; } = 1;

    /// <summary>Share of students that get an injected defect; 0 gives a clean province (no findings at all).</summary>
    public double DefectRate { get; init; } = 0.03;

    public DateOnly RoundDate { get; init; } = new(2026, 10, 15);

    public ExportEncoding Encoding { get; init; } = ExportEncoding.Utf8;

    public ExportFormat Format { get; init; } = ExportFormat.Csv;

    /// <summary>Also write the previous round's export (six months earlier, the previous school year).</summary>
    public bool Previous { get; init; }
}

/// <summary>Where the generated files are, and what they hold.</summary>
/// <param name="RegistrarAnswersPath">
/// registrar_answers.csv: what a registrar who knows the truth answers in the worksheet for each ground-truth finding
/// (<see cref="RegistrarAnswers.Load"/>; docs/synthetic-province.md).
/// </param>
/// <param name="DefectsByRule">Ground-truth findings per rule id (lines of ground_truth.csv), in catalogue order.</param>
public sealed record GenerationResult(
    string ExportDirectory,
    string SchoolMasterPath,
    IReadOnlyList<string> StudentExportPaths,
    string GroundTruthPath,
    string RegistrarAnswersPath,
    string? PreviousExportDirectory,
    DateOnly? PreviousRoundDate,
    int Students,
    int Schools,
    IReadOnlyDictionary<string, int> DefectsByRule);
