using StudentDataQuality.Reference;

namespace StudentDataQuality.Synthetic;

/// <summary>One school of the master, with what the generator decided for it.</summary>
internal sealed class SchoolPlan
{
    public required int Index { get; init; }

    public required string Code { get; init; }

    public required string Name { get; init; }

    public required Region County { get; init; }

    public required string PrefectureName { get; init; }

    public required int MinGrade { get; init; }

    public required int MaxGrade { get; init; }

    public required bool IsOpen { get; init; }

    /// <summary>Open but deliberately without students (rule A01).</summary>
    public bool Empty { get; set; }

    /// <summary>Previous round had a much larger leaving cohort (rule A02).</summary>
    public bool EnrolmentDrop { get; set; }

    /// <summary>More than 2% of its students get no ID (rule A03).</summary>
    public bool ManyWithoutId { get; set; }

    /// <summary>Students per grade, MinGrade first.</summary>
    public int[] Cohorts { get; set; } = [];

    public int Students => Cohorts.Sum();

    public bool HasStudents => IsOpen && !Empty && Students > 0;
}

/// <summary>Builds the school master: codes, counties, names, grade ranges, sizes.</summary>
internal static class SchoolMasterBuilder
{
    public static List<SchoolPlan> Build(GeneratorOptions options, ProvinceReference reference)
    {
        var rng = new Random(SeedMix.Combine(options.Seed, -1));
        var perCounty = new Dictionary<(string, int), int>();
        var schools = new List<SchoolPlan>(options.Schools);
        var sequence = 100000;
        for (var i = 0; i < options.Schools; i++)
        {
            var u = rng.NextDouble();
            var (type, min, max, suffix) = u switch
            {
                < 0.47 => ("21", 1, 6, "小学"),
                < 0.57 => ("21", 1, 9, "九年一贯制学校"),
                < 0.85 => ("31", 7, 9, "中学"),
                _ => ("34", 10, 12, "高级中学"),
            };
            var county = reference.Counties[rng.Next(reference.Counties.Count)];
            var key = (county.Code, max * 100 + min);
            var n = perCounty[key] = perCounty.GetValueOrDefault(key) + 1;
            var prefecture = reference.PrefectureName(county.Code);
            var name = n <= 20 ? $"{prefecture}{county.Name}第{NameBank.Numeral(n)}{suffix}" : $"{prefecture}{county.Name}第{n}{suffix}";
            sequence += 1 + rng.Next(7);
            schools.Add(new SchoolPlan
            {
                Index = i,
                Code = $"{type}23{sequence:D6}",
                Name = name,
                County = county,
                PrefectureName = prefecture,
                MinGrade = min,
                MaxGrade = max,
                IsOpen = true,
            });
        }

        // A few closed schools stay in the master (a registrar keeps them for history); they never have students.
        var closed = options.Schools >= 5 ? Math.Max(1, options.Schools / 40) : 0;
        foreach (var i in Pick(rng, options.Schools, closed, _ => true))
        {
            schools[i] = Close(schools[i]);
        }

        var open = schools.Count(s => s.IsOpen);
        var special = options.DefectRate > 0 && open >= 4
            ? Math.Min(Math.Max(2, (int)Math.Round(open * options.DefectRate * 0.2)), open / 4)
            : 0;
        foreach (var i in Pick(rng, options.Schools, special, i => schools[i].IsOpen))
        {
            schools[i].Empty = true;
        }

        foreach (var i in Pick(rng, options.Schools, special, i => schools[i].IsOpen && !schools[i].Empty))
        {
            schools[i].ManyWithoutId = true;
        }

        if (options.Previous)
        {
            foreach (var i in Pick(rng, options.Schools, special, i => schools[i].IsOpen && !schools[i].Empty && !schools[i].ManyWithoutId))
            {
                schools[i].EnrolmentDrop = true;
            }
        }

        Distribute(rng, schools, options.Students);
        return schools;
    }

    private static SchoolPlan Close(SchoolPlan s) => new()
    {
        Index = s.Index, Code = s.Code, Name = s.Name, County = s.County, PrefectureName = s.PrefectureName,
        MinGrade = s.MinGrade, MaxGrade = s.MaxGrade, IsOpen = false,
    };

    private static List<int> Pick(Random rng, int count, int wanted, Func<int, bool> eligible)
    {
        var candidates = Enumerable.Range(0, count).Where(eligible).ToList();
        var picked = new List<int>();
        while (picked.Count < wanted && candidates.Count > 0)
        {
            var k = rng.Next(candidates.Count);
            picked.Add(candidates[k]);
            candidates.RemoveAt(k);
        }

        picked.Sort();
        return picked;
    }

    /// <summary>Every school with students gets at least one; sizes vary (log-normal), senior schools are larger.</summary>
    private static void Distribute(Random rng, List<SchoolPlan> schools, int students)
    {
        var taking = schools.Where(s => s.IsOpen && !s.Empty).ToList();
        if (taking.Count == 0)
        {
            throw new ArgumentException("No open school can take students; use more schools.");
        }

        var weights = taking.Select(s =>
        {
            var normal = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            return (s.MaxGrade - s.MinGrade + 1) * Math.Exp(0.6 * normal) * (s.MinGrade >= 10 ? 1.6 : 1.0);
        }).ToArray();
        var total = weights.Sum();
        var spare = students - taking.Count;
        var sizes = weights.Select(w => 1 + (int)Math.Floor(spare * w / total)).ToArray();
        var left = students - sizes.Sum();
        for (var i = 0; left > 0; i = (i + 1) % sizes.Length, left--)
        {
            sizes[i]++;
        }

        for (var i = 0; i < taking.Count; i++)
        {
            var s = taking[i];
            var grades = s.MaxGrade - s.MinGrade + 1;
            var gradeWeights = Enumerable.Range(0, grades).Select(_ => 0.85 + (0.3 * rng.NextDouble())).ToArray();
            var gw = gradeWeights.Sum();
            var cohorts = gradeWeights.Select(w => (int)Math.Floor(sizes[i] * w / gw)).ToArray();
            for (int rest = sizes[i] - cohorts.Sum(), g = 0; rest > 0; rest--, g = (g + 1) % grades)
            {
                cohorts[g]++;
            }

            s.Cohorts = cohorts;
        }
    }
}

/// <summary>Deterministic seed mixing (SplitMix64); never HashCode, which is randomised per process.</summary>
internal static class SeedMix
{
    public static int Combine(int seed, int index)
    {
        var z = unchecked(((ulong)(uint)seed << 32) ^ (ulong)(uint)index) + 0x9E3779B97F4A7C15UL;
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }
}
