using Npgsql;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Exports;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Application.Exports;

/// <summary>
/// The problem list (docs/exports.md, "The problem list"): a round's open problems of a district or of the province, one
/// row per open finding (district, school, student number, name, grade and class, rule id and title, severity, field,
/// value, the round it was first seen in), masked by <see cref="StudentDataQuality.Identifiers.Masking"/> when the form is
/// masked. Written as an .xlsx (the caller watermarks it through the export register). Scope in SQL: a district office
/// reads its own district only (<c>access.may_act_for</c>); anything else is an <see cref="OutOfScopeException"/>.
/// </summary>
public sealed class ProblemListExport(NpgsqlDataSource dataSource)
{
    private readonly NpgsqlDataSource dataSource = dataSource;

    /// <summary>Writes the list to <paramref name="output"/>; the rows written and the fields the file carries.</summary>
    public Task<(int Rows, IReadOnlyList<string> Fields)> WriteAsync(Account reader, int roundId, ExportScope scope, ExportForm form,
        WorksheetLanguage language, Stream output, CancellationToken cancellationToken = default) => throw new NotImplementedException();
}
