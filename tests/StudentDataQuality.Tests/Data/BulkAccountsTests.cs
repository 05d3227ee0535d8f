using System.Diagnostics;
using System.Text;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Data;

/// <summary>
/// `sdq user bulk` as a real process on a real database: one account per school of the master that has none, each with a
/// one-time password that signs in as must-change, written once to a new owner-only CSV; one audit entry without passwords.
/// </summary>
public sealed class BulkAccountsTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Bulk_MakesAnAccountPerSchoolWithoutOne_WritesTheirPasswordsOnce_AndASecondRunMakesNothing()
    {
        await MasterAsync(("3301000001", "甲校", "330101"), ("3301000002", "乙校, 东区", "330101"), ("3301000003", "丙校", "330102"),
            ("3301000004", "丁校", "330102"));
        // One school has its account already, under another name: it is skipped and untouched.
        await db.ExecuteAsync("INSERT INTO access.account (account, role, school_code, created_by, password_hash) VALUES ('registrar-3', 'school', '3301000003', 'test', 'kept')");
        var auditBefore = await db.ScalarAsync<long>("SELECT count(*) FROM audit.event");
        var file = Path.Combine(_temp.Path, "accounts.csv");

        var (exit, output) = await SdqAsync("user", "bulk", "--schools", "--out", file);

        Assert.True(exit == 0, output);
        Assert.Contains("Created 3 school accounts", output, StringComparison.Ordinal);
        Assert.Contains("1 schools already had one", output, StringComparison.Ordinal);
        Assert.Equal("kept", await db.ScalarAsync<string>("SELECT password_hash FROM access.account WHERE account = 'registrar-3'"));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM access.account WHERE account = 'school-3301000003'"));

        var bytes = await File.ReadAllBytesAsync(file);
        Assert.Equal(Encoding.UTF8.GetPreamble(), bytes[..3]);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }

        var rows = PlainCsv(Encoding.UTF8.GetString(bytes[3..]));
        Assert.Equal(["school-3301000001", "school-3301000002", "school-3301000004"], rows.Skip(1).Select(r => r[0]));
        Assert.Equal(["school-3301000002", "3301000002", "乙校, 东区", "330101 东城区"], rows[2][..4]);

        var signIns = new SignIns(db.DataSource);
        foreach (var row in rows.Skip(1))
        {
            Assert.Equal(row[1], await db.ScalarAsync<string>("SELECT school_code FROM access.account WHERE account = @a AND role = 'school'", ("a", row[0])));
            var result = await signIns.SignInAsync(row[0], hash => Passwords.Matches(row[0], hash, row[4]), "test");
            Assert.Equal(SignInOutcome.MustChangePassword, result.Outcome);
        }

        // One audit entry for the run: the count and the file's sha256, no password (nor hash).
        var entry = await db.ScalarAsync<string>("SELECT details::text FROM audit.event WHERE action = 'account.bulk-add'");
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'account.bulk-add'"));
        Assert.Contains("\"created\": 3", entry, StringComparison.Ordinal);
        Assert.Contains(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes)).ToLowerInvariant(), entry, StringComparison.Ordinal);
        foreach (var row in rows.Skip(1))
        {
            Assert.DoesNotContain(row[4], await db.ScalarAsync<string>("SELECT string_agg(details::text || object, '|') FROM audit.event"), StringComparison.Ordinal);
        }

        Assert.Equal(auditBefore + 1 + 3, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event")); // the run, and three sign-ins

        // Again into the same file: refused, the file as it was, nothing made.
        var again = await SdqAsync("user", "bulk", "--schools", "--out", file);
        Assert.Equal(2, again.Exit);
        Assert.Contains("exists already", again.Output, StringComparison.Ordinal);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(file));

        // Again into a new file: every school has its account now; nothing is made and no file is written.
        var second = Path.Combine(_temp.Path, "second.csv");
        var none = await SdqAsync("user", "bulk", "--schools", "--out", second);
        Assert.True(none.Exit == 0, none.Output);
        Assert.Contains("4 skipped", none.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(second));
        Assert.Equal(4L, await db.ScalarAsync<long>("SELECT count(*) FROM access.account WHERE role = 'school'"));
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'account.bulk-add'"));

        // District offices, one district only.
        var districts = Path.Combine(_temp.Path, "districts.csv");
        var office = await SdqAsync("user", "bulk", "--districts", "--district", "330102", "--out", districts);
        Assert.True(office.Exit == 0, office.Output);
        var districtRows = PlainCsv(Encoding.UTF8.GetString((await File.ReadAllBytesAsync(districts))[3..]));
        Assert.Equal(["district-330102"], districtRows.Skip(1).Select(r => r[0]));
        Assert.Equal("330102", await db.ScalarAsync<string>("SELECT district_code FROM access.account WHERE account = 'district-330102' AND role = 'district'"));
    }

    /// <summary>A round whose school master holds these schools (district names are made from the code).</summary>
    private async Task MasterAsync(params (string Code, string Name, string District)[] schools)
    {
        var round = await db.ScalarAsync<int>(
            "INSERT INTO registry.round (code, round_date, school_year, created_by) VALUES ('bulk', '2026-10-15', 2026, 'test') RETURNING round_id");
        var file = await db.ScalarAsync<int>("""
            INSERT INTO staging.source_file (round_id, source_kind, file_name, sha256, layout, headers, staged_by)
            VALUES (@r, 'csv', 'schools.csv', repeat('a', 64), 'school', '{}', 'test') RETURNING file_id
            """, ("r", round));
        var row = 1;
        foreach (var (code, name, district) in schools)
        {
            await db.ExecuteAsync("""
                INSERT INTO registry.school (round_id, file_id, row_no, school_code, school_name_raw, district_code, district_name_raw)
                VALUES (@r, @f, @n, @c, @name, @d, CASE @d WHEN '330101' THEN '东城区' ELSE '西城区' END)
                """, ("r", round), ("f", file), ("n", ++row), ("c", code), ("name", name), ("d", district));
        }
    }

    private async Task<(int Exit, string Output)> SdqAsync(params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(WorkerProcess.SdqAssembly());
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["SDQ_DB"] = db.ConnectionString;
        info.Environment["COLUMNS"] = "400";
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        // Spectre wraps lines at its idea of the console width: whitespace runs read as one space.
        return (process.ExitCode, System.Text.RegularExpressions.Regex.Replace(await output + await error, @"\s+", " "));
    }

    private static List<string[]> PlainCsv(string text) => Synthetic.PlainCsv.Parse(text);
}
