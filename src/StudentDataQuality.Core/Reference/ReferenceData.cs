using System.Reflection;
using StudentDataQuality.Records;

namespace StudentDataQuality.Reference;

/// <summary>An administrative division of GB/T 2260: province (2 digits), prefecture (4) or county (6).</summary>
public sealed record Region(string Code, string Name, string? ParentCode)
{
    /// <summary>The six-digit form used on ID numbers and in registry fields (a prefecture 2301 is 230100).</summary>
    public string SixDigitCode => Code.PadRight(6, '0');
}

/// <summary>Reference data shipped with the project, read once from the embedded copies of the standards.</summary>
public static class ReferenceData
{
    private static readonly Dictionary<string, string> CountryNamesZh = new()
    {
        ["CHN"] = "中国", ["HKG"] = "中国香港", ["MAC"] = "中国澳门", ["TWN"] = "中国台湾", ["RUS"] = "俄罗斯",
        ["KOR"] = "韩国", ["PRK"] = "朝鲜", ["JPN"] = "日本", ["MNG"] = "蒙古", ["USA"] = "美国", ["CAN"] = "加拿大",
        ["GBR"] = "英国", ["FRA"] = "法国", ["DEU"] = "德国", ["AUS"] = "澳大利亚", ["SGP"] = "新加坡",
        ["MYS"] = "马来西亚", ["VNM"] = "越南", ["KAZ"] = "哈萨克斯坦",
    };

    private static readonly Lazy<IReadOnlyList<CodeEntry>> EthnicityList = new(() =>
        ReadCsv("ethnicity.csv").Select(r => new CodeEntry(r[0], r[1], r[1])).ToArray());

    private static readonly Lazy<IReadOnlyList<Region>> RegionList = new(LoadRegions);

    private static readonly Lazy<IReadOnlyList<CodeEntry>> CountryList = new(() =>
        CountryCodes.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(c => new CodeEntry(c, CountryNamesZh.GetValueOrDefault(c, c), c))
            .ToArray());

    public static IReadOnlyList<CodeEntry> Ethnicities => EthnicityList.Value;

    /// <summary>Every current province, prefecture and county division, parents before children.</summary>
    public static IReadOnlyList<Region> Regions => RegionList.Value;

    public static IReadOnlyList<CodeEntry> Countries => CountryList.Value;

    /// <summary>Counties (six-digit codes) of one province, e.g. "23" for Heilongjiang.</summary>
    public static IEnumerable<Region> CountiesOf(string provinceCode) =>
        Regions.Where(r => r.Code.Length == 6 && r.Code.StartsWith(provinceCode, StringComparison.Ordinal));

    private static IReadOnlyList<Region> LoadRegions()
    {
        var provinces = ReadCsv("provinces.csv").Select(r => new Region(r[0], r[1], null));
        var cities = ReadCsv("cities.csv").Select(r => new Region(r[0], r[1], r[2]));
        var counties = ReadCsv("areas.csv").Select(r => new Region(r[0], r[1], r[2]));
        return [.. provinces, .. cities, .. counties];
    }

    /// <summary>Reads one of the small embedded reference CSVs (header skipped; quotes only around whole fields).</summary>
    private static IEnumerable<string[]> ReadCsv(string name)
    {
        var resource = $"reference/{name}";
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Embedded reference data '{resource}' is missing from the build.");
        using var reader = new StreamReader(stream);
        reader.ReadLine();
        var rows = new List<string[]>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0)
            {
                rows.Add(line.Split(',').Select(f => f.Trim().Trim('"')).ToArray());
            }
        }

        return rows;
    }

    private const string CountryCodes = """
        AFG ALA ALB DZA ASM AND AGO AIA ATA ATG ARG ARM ABW AUS AUT AZE BHS BHR BGD BRB BLR BEL BLZ BEN BMU BTN BOL BES
        BIH BWA BVT BRA IOT BRN BGR BFA BDI CPV KHM CMR CAN CYM CAF TCD CHL CHN CXR CCK COL COM COG COD COK CRI CIV HRV
        CUB CUW CYP CZE DNK DJI DMA DOM ECU EGY SLV GNQ ERI EST SWZ ETH FLK FRO FJI FIN FRA GUF PYF ATF GAB GMB GEO DEU
        GHA GIB GRC GRL GRD GLP GUM GTM GGY GIN GNB GUY HTI HMD VAT HND HKG HUN ISL IND IDN IRN IRQ IRL IMN ISR ITA JAM
        JPN JEY JOR KAZ KEN KIR PRK KOR KWT KGZ LAO LVA LBN LSO LBR LBY LIE LTU LUX MAC MDG MWI MYS MDV MLI MLT MHL MTQ
        MRT MUS MYT MEX FSM MDA MCO MNG MNE MSR MAR MOZ MMR NAM NRU NPL NLD NCL NZL NIC NER NGA NIU NFK MKD MNP NOR OMN
        PAK PLW PSE PAN PNG PRY PER PHL PCN POL PRT PRI QAT REU ROU RUS RWA BLM SHN KNA LCA MAF SPM VCT WSM SMR STP SAU
        SEN SRB SYC SLE SGP SXM SVK SVN SLB SOM ZAF SGS SSD ESP LKA SDN SUR SJM SWE CHE SYR TWN TJK TZA THA TLS TGO TKL
        TON TTO TUN TUR TKM TCA TUV UGA UKR ARE GBR USA UMI URY UZB VUT VEN VNM VGB VIR WLF ESH YEM ZMB ZWE
        """;

}
