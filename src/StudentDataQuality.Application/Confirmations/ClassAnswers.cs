using Npgsql;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Data.Confirmations;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;

namespace StudentDataQuality.Application.Confirmations;

/// <summary>
/// A class's answer workbook out and back (docs/confirmations.md, "The class answer workbook"): the workbook of a class's
/// newest sheets for its class teacher, and a returned workbook's answers entered all or none through the confirmation store.
/// </summary>
public sealed class ClassAnswers(NpgsqlDataSource dataSource, SigningKey key, CheckOptions? checkOptions = null)
{
    private readonly ConfirmationStore _store = new(dataSource, checkOptions);
    private readonly SigningKey _key = key;

    /// <summary>The class answer workbook of a class (the read is audited by the store).</summary>
    public Task<byte[]> ExportAsync(Account reader, string roundCode, string schoolCode, ClassKey onlyClass, bool english,
        CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Enters a returned workbook's answers as <paramref name="enteredBy"/>; a refused file is audited and nothing of it is taken.</summary>
    /// <exception cref="UserErrorException">The file is refused: what, where, what to do.</exception>
    public Task<IReadOnlyList<AnswerOutcome>> IngestAsync(Stream file, string fileName, Account enteredBy, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();
}
