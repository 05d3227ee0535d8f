using System.Globalization;
using Npgsql;

namespace StudentDataQuality.Data.Staging;

/// <summary>A verification round as stored.</summary>
public sealed record Round(int RoundId, string Code, DateOnly RoundDate, short SchoolYear, int? PreviousRoundId, string Status);

/// <summary>
/// Finds and creates rounds. Creation takes the caller's connection, so that a round comes into being in the same
/// transaction as the first data staged into it: an extract that fails leaves no empty round behind.
/// </summary>
public static class RoundStore
{
    /// <summary>The year in which the school year containing a date started (school years start on 1 September).</summary>
    public static short SchoolYearOf(DateOnly date) => (short)(date.Month >= 9 ? date.Year : date.Year - 1);

    public static async Task<Round?> FindAsync(NpgsqlDataSource dataSource, string code, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await FindAsync(connection, code, cancellationToken);
    }

    public static async Task<Round?> FindAsync(NpgsqlConnection connection, string code, CancellationToken cancellationToken = default)
    {
        await using var command = new NpgsqlCommand(
            "SELECT round_id, code, round_date, school_year, previous_round_id, status FROM registry.round WHERE code = @code", connection);
        command.Parameters.AddWithValue("code", code);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new Round(reader.GetInt32(0), reader.GetString(1), reader.GetFieldValue<DateOnly>(2), reader.GetInt16(3),
                reader.IsDBNull(4) ? null : reader.GetInt32(4), reader.GetString(5))
            : null;
    }

    /// <summary>
    /// Refuses, before anything is read or written, a round code that cannot be used or a round date that
    /// contradicts the existing round's.
    /// </summary>
    public static void Check(string code, DateOnly? roundDate, Round? existing)
    {
        ArgumentException.ThrowIfNullOrEmpty(code);
        if (!System.Text.RegularExpressions.Regex.IsMatch(code, "^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"))
        {
            throw new UserErrorException(new UserMessage("Staging.RoundCodeInvalid", code));
        }

        if (existing is not null && roundDate is { } date && date != existing.RoundDate)
        {
            throw new UserErrorException(new UserMessage("Staging.RoundDateDiffers", code,
                existing.RoundDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)));
        }
    }

    /// <summary>
    /// The round with this code; created on <paramref name="connection"/> (inside the caller's transaction) when it
    /// does not exist yet, dated <paramref name="roundDate"/> (default today) and following
    /// <paramref name="previousCode"/> when given.
    /// </summary>
    public static async Task<Round> EnsureAsync(NpgsqlConnection connection, string code, DateOnly? roundDate, string? previousCode, string actor,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var existing = await FindAsync(connection, code, cancellationToken);
        Check(code, roundDate, existing);
        if (existing is not null)
        {
            return existing;
        }

        int? previousId = null;
        if (previousCode is not null)
        {
            previousId = (await FindAsync(connection, previousCode, cancellationToken))?.RoundId
                ?? throw new UserErrorException(new UserMessage("Staging.PreviousRoundMissing", previousCode));
        }

        var effectiveDate = roundDate ?? DateOnly.FromDateTime(DateTime.Today);
        await using var command = new NpgsqlCommand("""
            INSERT INTO registry.round (code, round_date, school_year, previous_round_id, created_by)
            VALUES (@code, @date, @year, @previous, @actor)
            """, connection);
        command.Parameters.AddWithValue("code", code);
        command.Parameters.AddWithValue("date", effectiveDate);
        command.Parameters.AddWithValue("year", SchoolYearOf(effectiveDate));
        command.Parameters.AddWithValue("previous", (object?)previousId ?? DBNull.Value);
        command.Parameters.AddWithValue("actor", actor);
        await command.ExecuteNonQueryAsync(cancellationToken);
        return await FindAsync(connection, code, cancellationToken) ?? throw new InvalidOperationException($"Round {code} vanished after it was created.");
    }
}
