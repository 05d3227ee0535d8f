using StudentDataQuality.Confirmations;
using StudentDataQuality.Data.Confirmations;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Reporting;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Confirmations;

/// <summary>
/// A campaign in the portal round as the confirmation tables hold it: one school's first class printed whole (one student
/// twice, the older sheet answered), its second class half printed; some sheets answered unchanged, some corrected (a phone
/// applied), one name change waiting for the registrar. Written straight into the tables, so that the figures are tested
/// against the data as it lies, whoever wrote it.
/// </summary>
public static class ConfirmationFixture
{
    public sealed record Seeded(int RoundId, string RoundCode, string SchoolCode, string DistrictCode, ClassKey First, ClassKey Second);

    public static async Task<Seeded> SeedAsync(DatabaseFixture db, int roundId)
    {
        var school = await db.ScalarAsync<string>("""
            WITH classes AS (
                SELECT r.school_code, r.grade, r.class_name FROM registry.current_record r
                JOIN   access.school_district d ON d.school_code = r.school_code AND d.district_code IS NOT NULL
                WHERE  r.round_id = @r AND r.grade BETWEEN 1 AND 12 AND r.class_name <> '' GROUP BY 1, 2, 3 HAVING count(*) >= 4)
            SELECT school_code FROM classes GROUP BY school_code HAVING count(*) >= 2 ORDER BY school_code LIMIT 1
            """, ("r", roundId));
        var district = await db.ScalarAsync<string>("SELECT district_code FROM access.school_district WHERE school_code = @s", ("s", school));
        var code = await db.ScalarAsync<string>("SELECT code FROM registry.round WHERE round_id = @r", ("r", roundId));
        var classes = await db.ScalarAsync<string>("""
            SELECT string_agg(grade || '|' || class_name, '¦' ORDER BY grade, class_name) FROM (
                SELECT grade, class_name FROM registry.current_record WHERE round_id = @r AND school_code = @s AND grade BETWEEN 1 AND 12
                  AND class_name <> '' GROUP BY 1, 2 HAVING count(*) >= 4 ORDER BY 1, 2 LIMIT 2) c
            """, ("r", roundId), ("s", school));
        var keys = classes.Split('¦').Select(c => c.Split('|')).Select(p => new ClassKey(int.Parse(p[0], System.Globalization.CultureInfo.InvariantCulture), p[1]))
            .ToArray();
        if (await db.ScalarAsync<long>("SELECT count(*) FROM confirm.sheet WHERE round_id = @r", ("r", roundId)) > 0)
        {
            return new Seeded(roundId, code, school, district, keys[0], keys[1]);
        }

        await db.ExecuteAsync("""
            INSERT INTO confirm.campaign (round_id, opened_by, closes_on) VALUES (@r, 'test', current_date + 30);
            WITH print AS (
                INSERT INTO confirm.print (round_id, school_code, grade, class_name, printed_by, sheets, language)
                VALUES (@r, @s, @g1, @c1, 'test', 0, 'zh') RETURNING print_id),
            students AS (
                SELECT r.record_id, r.version, r.grade, r.class_name,
                       row_number() OVER (PARTITION BY r.grade, r.class_name ORDER BY r.record_id) AS n,
                       count(*) OVER (PARTITION BY r.grade, r.class_name) AS size
                FROM   registry.current_record r
                WHERE  r.round_id = @r AND r.school_code = @s AND ((r.grade = @g1 AND r.class_name = @c1) OR (r.grade = @g2 AND r.class_name = @c2)))
            INSERT INTO confirm.sheet (sheet_id, print_id, round_id, school_code, grade, class_name, record_id, record_version, printed_values)
            SELECT 'QS' || upper(substr(md5(st.record_id::text || k.tag), 1, 10)), p.print_id, @r, @s, st.grade, st.class_name, st.record_id, st.version,
                   '{}'::jsonb
            FROM   students st CROSS JOIN print p
            JOIN   (VALUES ('old'), ('new')) AS k(tag) ON k.tag = 'old' OR st.n = 1
            WHERE  st.class_name = @c1 AND st.grade = @g1 OR st.n <= st.size / 2;
            """, ("r", roundId), ("s", school), ("g1", (short)keys[0].Grade), ("c1", keys[0].ClassName), ("g2", (short)keys[1].Grade),
            ("c2", keys[1].ClassName));
        // Answers on the older sheets: in the first class every fourth student unchanged and the next corrected (the first
        // student, printed twice, answered on the older sheet); in the second every third printed student corrected.
        await db.ExecuteAsync("""
            WITH numbered AS (
                SELECT s.sheet_id, s.record_id, s.grade, s.class_name, row_number() OVER (PARTITION BY s.grade, s.class_name ORDER BY s.record_id) AS n
                FROM   confirm.sheet s WHERE s.round_id = @r AND s.sheet_id = 'QS' || upper(substr(md5(s.record_id::text || 'old'), 1, 10)))
            INSERT INTO confirm.answer (sheet_id, round_id, record_id, outcome, signed_on, entered_by)
            SELECT sheet_id, @r, record_id,
                   CASE WHEN grade = @g1 AND class_name = @c1 AND n % 4 = 1 THEN 'unchanged' ELSE 'corrected' END, current_date - 1, 'teacher-test'
            FROM   numbered
            WHERE  (grade = @g1 AND class_name = @c1 AND n % 4 IN (1, 2)) OR (NOT (grade = @g1 AND class_name = @c1) AND n % 3 = 1);
            INSERT INTO confirm.change (answer_id, round_id, record_id, field, printed_value, new_value, status)
            SELECT answer_id, @r, record_id, 'guardian_phone', '13800000000', '13900000000', 'applied' FROM confirm.answer
            WHERE  round_id = @r AND outcome = 'corrected';
            INSERT INTO confirm.change (answer_id, round_id, record_id, field, printed_value, new_value, status, waits_because)
            SELECT answer_id, @r, record_id, 'name', '旧名', '新名', 'pending', 'identity' FROM confirm.answer
            WHERE  round_id = @r AND outcome = 'corrected' ORDER BY answer_id LIMIT 1;
            """, ("r", roundId), ("g1", (short)keys[0].Grade), ("c1", keys[0].ClassName));
        return new Seeded(roundId, code, school, district, keys[0], keys[1]);
    }

    /// <summary>
    /// The figures of the students a condition picks (SQL over r, a current record), counted here another way: each student
    /// looked up on its own (EXISTS, the newest answer by a scalar subquery), not grouped once per table as the reader does.
    /// </summary>
    public static async Task<ConfirmationFigures> ExpectedAsync(DatabaseFixture db, int roundId, string where, params (string Name, object Value)[] parameters)
    {
        var text = await db.ScalarAsync<string>($"""
            SELECT concat_ws(',', count(*),
                   count(*) FILTER (WHERE EXISTS (SELECT 1 FROM confirm.sheet s WHERE s.round_id = r.round_id AND s.record_id = r.record_id)),
                   count(*) FILTER (WHERE EXISTS (SELECT 1 FROM confirm.answer a WHERE a.round_id = r.round_id AND a.record_id = r.record_id)),
                   count(*) FILTER (WHERE (SELECT a.outcome FROM confirm.answer a WHERE a.round_id = r.round_id AND a.record_id = r.record_id
                                           ORDER BY a.signed_on DESC, a.entered_at DESC, a.answer_id DESC LIMIT 1) = 'unchanged'),
                   count(*) FILTER (WHERE (SELECT a.outcome FROM confirm.answer a WHERE a.round_id = r.round_id AND a.record_id = r.record_id
                                           ORDER BY a.signed_on DESC, a.entered_at DESC, a.answer_id DESC LIMIT 1) = 'corrected'),
                   coalesce(sum((SELECT count(*) FROM confirm.change c WHERE c.round_id = r.round_id AND c.record_id = r.record_id AND c.status = 'pending')), 0))
            FROM   registry.current_record r
            WHERE  r.round_id = @round AND ({where})
            """, [("round", roundId), .. parameters]);
        var n = text.Split(',').Select(v => int.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return new ConfirmationFigures(n[0], n[1], n[2], n[3], n[4], n[5]);
    }
}

/// <summary>The progress figures against counts made independently, and who reads which of them.</summary>
public sealed class ConfirmationProgressTests(PortalRound fixture) : IClassFixture<PortalRound>, IAsyncLifetime
{
    private readonly DatabaseFixture db = fixture.Database;
    private ConfirmationFixture.Seeded seeded = null!;

    public async Task InitializeAsync() => seeded = await ConfirmationFixture.SeedAsync(db, fixture.Run.RoundId);

    public Task DisposeAsync() => Task.CompletedTask;

    private ConfirmationProgress Progress => new(db.DataSource);

    [Fact]
    public async Task AClassesFigures_EqualCountsMadeOneStudentAtATime()
    {
        var registrar = new Account("school-progress", AccountRole.School, seeded.SchoolCode);
        var classes = await Progress.ClassesAsync(registrar, seeded.RoundId, seeded.SchoolCode);
        foreach (var key in new[] { seeded.First, seeded.Second })
        {
            var expected = await ConfirmationFixture.ExpectedAsync(db, seeded.RoundId, "r.school_code = @s AND r.grade = @g AND r.class_name = @c",
                ("s", seeded.SchoolCode), ("g", (short)key.Grade), ("c", key.ClassName));
            Assert.Equal(expected, Assert.Single(classes, c => c.Class == key).Figures);
        }

        // The fixture is what it says: the first class printed whole, answered both ways, one change waiting; the second half printed.
        var first = classes.Single(c => c.Class == seeded.First).Figures;
        Assert.Equal(first.Students, first.Printed);
        Assert.True(first.Unchanged > 0 && first.Corrected > 0, first.ToString());
        Assert.Equal(first.Unchanged + first.Corrected, first.Returned);
        Assert.Equal(first.Printed - first.Returned, first.Outstanding);
        Assert.Equal(1, classes.Sum(c => c.Figures.Waiting));
        var second = classes.Single(c => c.Class == seeded.Second).Figures;
        Assert.InRange(second.Printed, 1, second.Students - 1);
        // Every student of the school is in one row (the classes, and those without a class apart).
        Assert.Equal(await db.ScalarAsync<long>("SELECT count(*) FROM registry.current_record WHERE round_id = @r AND school_code = @s",
            ("r", seeded.RoundId), ("s", seeded.SchoolCode)), classes.Sum(c => c.Figures.Students));
        // The student printed twice counts once, and is returned through the older sheet.
        Assert.True(await db.ScalarAsync<long>("SELECT count(*) FROM confirm.sheet WHERE round_id = @r", ("r", seeded.RoundId))
            > classes.Sum(c => c.Figures.Printed));
    }

    [Fact]
    public async Task ADistrictsSchools_AndTheDistricts_EqualCountsMadeOneStudentAtATime()
    {
        var office = new Account("district-progress", AccountRole.District, DistrictCode: seeded.DistrictCode);
        var schools = await Progress.SchoolsAsync(office, seeded.RoundId, seeded.DistrictCode, new TableQuery(Sort: "code"));
        var inDistrict = await db.ScalarAsync<string[]>("""
            SELECT array_agg(DISTINCT s.school_code ORDER BY s.school_code) FROM registry.school s
            JOIN access.school_district d ON d.school_code = s.school_code WHERE s.round_id = @r AND d.district_code = @d
            """, ("r", seeded.RoundId), ("d", seeded.DistrictCode));
        Assert.Equal(inDistrict, schools.Rows.Select(s => s.SchoolCode));
        foreach (var school in schools.Rows)
        {
            Assert.Equal(await ConfirmationFixture.ExpectedAsync(db, seeded.RoundId, "r.school_code = @s", ("s", school.SchoolCode)), school.Figures);
        }

        var team = new Account("team-progress", AccountRole.DataTeam);
        var districts = await Progress.DistrictsAsync(team, seeded.RoundId, new TableQuery());
        foreach (var district in districts.Rows)
        {
            Assert.Equal(await ConfirmationFixture.ExpectedAsync(db, seeded.RoundId,
                "r.school_code IN (SELECT school_code FROM access.school_district WHERE district_code = @d)", ("d", district.DistrictCode!)), district.Figures);
        }

        Assert.Equal(1, districts.Rows.Sum(d => d.Figures.Waiting));
        // Sorted by what is outstanding, most first: the seeded school leads its district.
        var outstanding = await Progress.SchoolsAsync(office, seeded.RoundId, seeded.DistrictCode, new TableQuery(Sort: "outstanding", Descending: true));
        Assert.Equal(seeded.SchoolCode, outstanding.Rows[0].SchoolCode);
    }

    [Fact]
    public async Task ADistrictReadsOnlyItsSchools_ASchoolOnlyItself_AndAManagerOnlyTheTrendsAggregates()
    {
        var office = new Account("district-scope", AccountRole.District, DistrictCode: seeded.DistrictCode);
        var other = await db.ScalarAsync<string>("""
            SELECT min(district_code) FROM access.school_district WHERE district_code IS NOT NULL AND district_code <> @d
            """, ("d", seeded.DistrictCode));
        var otherSchool = await db.ScalarAsync<string>("SELECT min(school_code) FROM access.school_district WHERE district_code = @d", ("d", other));

        // Another district's schools: none listed; its school's classes: refused.
        Assert.Empty((await Progress.SchoolsAsync(office, seeded.RoundId, other, new TableQuery())).Rows);
        await Assert.ThrowsAsync<OutOfScopeException>(() => Progress.ClassesAsync(office, seeded.RoundId, otherSchool));
        Assert.Equal([seeded.DistrictCode], (await Progress.DistrictsAsync(office, seeded.RoundId, new TableQuery())).Rows.Select(d => d.DistrictCode));
        var ownTrend = await Progress.TrendAsync(new TrendRequest(office, "test", seeded.RoundId));
        Assert.Equal([seeded.DistrictCode], ownTrend.Select(d => d.DistrictCode));
        await Assert.ThrowsAsync<OutOfScopeException>(() => Progress.TrendAsync(new TrendRequest(office, "test", seeded.RoundId, other)));

        // A school: its own classes only, and no trends.
        var school = new Account("school-scope", AccountRole.School, otherSchool);
        await Assert.ThrowsAsync<OutOfScopeException>(() => Progress.ClassesAsync(school, seeded.RoundId, seeded.SchoolCode));
        await Assert.ThrowsAsync<OutOfScopeException>(() => Progress.TrendAsync(new TrendRequest(school, "test", seeded.RoundId)));

        // A manager: no school, no district's schools; the trends' figures of every district, adding up to the province.
        var manager = new Account("manager-scope", AccountRole.Manager);
        await Assert.ThrowsAsync<OutOfScopeException>(() => Progress.ClassesAsync(manager, seeded.RoundId, seeded.SchoolCode));
        Assert.Empty((await Progress.SchoolsAsync(manager, seeded.RoundId, seeded.DistrictCode, new TableQuery())).Rows);
        Assert.Empty((await Progress.DistrictsAsync(manager, seeded.RoundId, new TableQuery())).Rows);
        var trend = await Progress.TrendAsync(new TrendRequest(manager, "test", seeded.RoundId, Export: true));
        Assert.Equal(await ConfirmationFixture.ExpectedAsync(db, seeded.RoundId, "true"), new ConfirmationFigures(trend.Sum(d => d.Figures.Students),
            trend.Sum(d => d.Figures.Printed), trend.Sum(d => d.Figures.Returned), trend.Sum(d => d.Figures.Unchanged), trend.Sum(d => d.Figures.Corrected),
            trend.Sum(d => d.Figures.Waiting)));
        var mine = trend.Single(d => d.DistrictCode == seeded.DistrictCode).Figures;
        Assert.Equal((double)mine.Returned / mine.Students, mine.ConfirmedShare);
        Assert.Equal(1, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE actor = 'manager-scope' AND action = 'report.export' AND object = 'trends/confirmations'"));
    }
}
