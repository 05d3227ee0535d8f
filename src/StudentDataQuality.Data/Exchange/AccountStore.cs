using Npgsql;

namespace StudentDataQuality.Data.Exchange;

/// <summary>What an account may do (ARCHITECTURE.md, who uses it).</summary>
public enum AccountRole
{
    /// <summary>The provincial or city data team: every school, every round.</summary>
    DataTeam,

    /// <summary>A district (county) office: the schools of its district.</summary>
    District,

    /// <summary>A school's registrar: its own school.</summary>
    School,

    /// <summary>A manager: aggregates only, never a student's data.</summary>
    Manager,
}

/// <summary>Someone who acts: an account of <c>access.account</c>, or the data team's operator at the command line.</summary>
public sealed record Account(string Name, AccountRole Role, string? SchoolCode = null, string? DistrictCode = null)
{
    /// <summary>The operator of the command line, who acts as the data team.</summary>
    public static Account Operator(string name) => new(name, AccountRole.DataTeam);

    /// <summary>Whether this account may see and change the student data of a school (of the given district).</summary>
    public bool MayActFor(string schoolCode, string? districtCode) => Role switch
    {
        AccountRole.DataTeam => true,
        AccountRole.School => string.Equals(SchoolCode, schoolCode, StringComparison.Ordinal),
        AccountRole.District => districtCode is not null && string.Equals(DistrictCode, districtCode, StringComparison.Ordinal),
        _ => false,
    };

    public static string RoleText(AccountRole role) => role switch
    {
        AccountRole.DataTeam => "data_team",
        AccountRole.District => "district",
        AccountRole.School => "school",
        _ => "manager",
    };

    public static AccountRole ParseRole(string text) => text switch
    {
        "data_team" => AccountRole.DataTeam,
        "district" => AccountRole.District,
        "school" => AccountRole.School,
        "manager" => AccountRole.Manager,
        _ => throw new InvalidOperationException($"Unknown account role '{text}' in access.account."),
    };
}

/// <summary>The accounts of <c>access.account</c>. Passwords and their policy belong to the web portal.</summary>
public sealed class AccountStore(NpgsqlDataSource dataSource)
{
    public async Task<Account?> FindAsync(string name, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT account, role, school_code, district_code FROM access.account WHERE account = @name");
        command.Parameters.AddWithValue("name", name);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>The account of that name, or a user error saying how to make one.</summary>
    public async Task<Account> GetAsync(string name, CancellationToken cancellationToken = default) =>
        await FindAsync(name, cancellationToken)
        ?? throw new UserErrorException($"There is no account '{name}'. List the accounts with 'sdq user list', or add one with 'sdq user add'.");

    public async Task<IReadOnlyList<Account>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT account, role, school_code, district_code FROM access.account ORDER BY role, account");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var accounts = new List<Account>();
        while (await reader.ReadAsync(cancellationToken))
        {
            accounts.Add(Read(reader));
        }

        return accounts;
    }

    /// <summary>Adds an account (or leaves an identical one as it is), with an audit entry.</summary>
    public async Task AddAsync(Account account, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(account);
        if (account.Role == AccountRole.School && string.IsNullOrWhiteSpace(account.SchoolCode))
        {
            throw new UserErrorException($"A school account needs its school code (--school): '{account.Name}' has none.");
        }

        if (account.Role == AccountRole.District && string.IsNullOrWhiteSpace(account.DistrictCode))
        {
            throw new UserErrorException($"A district account needs its district code (--district): '{account.Name}' has none.");
        }

        if (!System.Text.RegularExpressions.Regex.IsMatch(account.Name, "^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"))
        {
            throw new UserErrorException(
                $"'{account.Name}' cannot be an account name: use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit.");
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            WITH added AS (
                INSERT INTO access.account (account, role, school_code, district_code, created_by)
                VALUES (@name, @role, @school, @district, @actor)
                ON CONFLICT (account) DO NOTHING
                RETURNING account)
            INSERT INTO audit.event (actor, action, school_code, object, details)
            SELECT @actor, 'account.add', @school, account, jsonb_build_object('role', @role, 'district_code', @district) FROM added
            """, connection);
        command.Parameters.AddWithValue("name", account.Name);
        command.Parameters.AddWithValue("role", Account.RoleText(account.Role));
        command.Parameters.AddWithValue("school", (object?)account.SchoolCode ?? DBNull.Value);
        command.Parameters.AddWithValue("district", (object?)account.DistrictCode ?? DBNull.Value);
        command.Parameters.AddWithValue("actor", actor);
        var added = await command.ExecuteNonQueryAsync(cancellationToken);
        if (added == 0 && await FindAsync(account.Name, cancellationToken) is { } existing && existing != account)
        {
            throw new UserErrorException($"An account '{account.Name}' already exists with another role or school ({Account.RoleText(existing.Role)}, {existing.SchoolCode ?? existing.DistrictCode ?? "all"}).");
        }

        await transaction.CommitAsync(cancellationToken);
    }

    private static Account Read(NpgsqlDataReader reader) =>
        new(reader.GetString(0), Account.ParseRole(reader.GetString(1)), reader.IsDBNull(2) ? null : reader.GetString(2),
            reader.IsDBNull(3) ? null : reader.GetString(3));
}
