using StudentDataQuality.Reference;

namespace StudentDataQuality.Synthetic;

/// <summary>The reference data the generator draws from: Heilongjiang's counties, some other provinces', retired codes.</summary>
internal sealed class ProvinceReference
{
    /// <summary>
    /// Heilongjiang county codes retired by GB/T 2260 revisions (districts merged, counties turned into districts).
    /// They are still printed on older ID cards: rule F05 gives a warning for them.
    /// 230106 动力区 and 230107 太平区 (merged 2006), 230121 呼兰县 (2004), 230181 阿城市 (2006), 230182 双城市 (2014).
    /// </summary>
    public static readonly string[] RetiredCodes = ["230106", "230107", "230121", "230181", "230182"];

    private static readonly Dictionary<string, string> AreaCodes = new()
    {
        ["2301"] = "0451", ["2302"] = "0452", ["2303"] = "0467", ["2304"] = "0468", ["2305"] = "0469", ["2306"] = "0459",
        ["2307"] = "0458", ["2308"] = "0454", ["2309"] = "0464", ["2310"] = "0453", ["2311"] = "0456", ["2312"] = "0455",
        ["2327"] = "0457",
    };

    private readonly Dictionary<string, string> _prefectures;

    public ProvinceReference()
    {
        var known = ReferenceData.Regions.Select(r => r.SixDigitCode).ToHashSet(StringComparer.Ordinal);
        if (RetiredCodes.Any(known.Contains))
        {
            throw new InvalidOperationException("A region code listed as retired is in the current reference data.");
        }

        Counties = [.. ReferenceData.CountiesOf("23").OrderBy(r => r.Code, StringComparer.Ordinal)];
        _prefectures = ReferenceData.Regions.Where(r => r.Code.Length == 4).ToDictionary(r => r.Code, r => r.Name, StringComparer.Ordinal);

        // Every 40th county of the other provinces: students born elsewhere and moved to Heilongjiang.
        OtherCounties = [.. ReferenceData.Regions
            .Where(r => r.Code.Length == 6 && !r.Code.StartsWith("23", StringComparison.Ordinal))
            .OrderBy(r => r.Code, StringComparer.Ordinal)
            .Where((_, i) => i % 40 == 7)];
    }

    public IReadOnlyList<Region> Counties { get; }

    public IReadOnlyList<Region> OtherCounties { get; }

    public IEnumerable<string> AllIdRegions =>
        Counties.Select(c => c.Code).Concat(OtherCounties.Select(c => c.Code)).Concat(RetiredCodes);

    public string PrefectureName(string countyCode)
    {
        var name = _prefectures.GetValueOrDefault(countyCode[..4], "");
        return name == "市辖区" ? "" : name;
    }

    public static string AreaCode(string countyCode) => AreaCodes.GetValueOrDefault(countyCode[..4], "0451");
}
