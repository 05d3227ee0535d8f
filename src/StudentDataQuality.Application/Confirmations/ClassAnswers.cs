using System.Security.Cryptography;
using Npgsql;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Data;
using StudentDataQuality.Data.Confirmations;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Worksheets;
using StudentDataQuality.Worksheets.Confirmations;

namespace StudentDataQuality.Application.Confirmations;

/// <summary>
/// A class's answer workbook out and back (docs/confirmations.md, "The class answer workbook"): the workbook of a class's
/// newest sheets for its class teacher, and a returned workbook's answers entered all or none through the confirmation store.
/// </summary>
public sealed class ClassAnswers(NpgsqlDataSource dataSource, SigningKey key, CheckOptions? checkOptions = null)
{
    private readonly NpgsqlDataSource _dataSource = dataSource;
    private readonly ConfirmationStore _store = new(dataSource, checkOptions);
    private readonly SigningKey _key = key;

    /// <summary>The class answer workbook of a class (the read is audited by the store).</summary>
    public async Task<byte[]> ExportAsync(Account reader, string roundCode, string schoolCode, ClassKey onlyClass, bool english,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(onlyClass);
        var sheets = await _store.ClassSheetsAsync(reader, roundCode, schoolCode, onlyClass, cancellationToken);
        if (sheets.Count == 0)
        {
            throw new UserErrorException(new UserMessage("AnswerWorkbook.NoSheets", onlyClass.Grade, onlyClass.ClassName, roundCode));
        }

        return ClassAnswerWorkbook.Write(sheets, _key.Key, english);
    }

    /// <summary>Enters a returned workbook's answers as <paramref name="enteredBy"/>; a refused file is audited and nothing of it is taken.</summary>
    /// <exception cref="UserErrorException">The file is refused: what, where, what to do.</exception>
    public async Task<IReadOnlyList<AnswerOutcome>> IngestAsync(Stream file, string fileName, Account enteredBy, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(fileName);
        ArgumentNullException.ThrowIfNull(enteredBy);
        // Read bounded once, so that the sha256 is of exactly the bytes read (a file over the limit is refused here as by the reader).
        byte[] bytes;
        try
        {
            bytes = await ReadBoundedAsync(file, ReturnLimits.Default.MaxBytes, cancellationToken)
                ?? throw new UserErrorException(new UserMessage("AnswerWorkbook.TooLarge", fileName,
                    (ReturnLimits.Default.MaxBytes / 1048576.0).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture)));
        }
        catch (UserErrorException e)
        {
            await AuditRefusalAsync(enteredBy, fileName, null, null, e, cancellationToken);
            throw;
        }

        var sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));
        ClassAnswerContent content;
        try
        {
            content = ClassAnswerWorkbook.Read(new MemoryStream(bytes, writable: false), fileName, _key.Key);
        }
        catch (UserErrorException e)
        {
            await AuditRefusalAsync(enteredBy, fileName, sha256, null, e, cancellationToken);
            throw;
        }

        if (content.Answers.Count == 0)
        {
            // Nothing filled yet: nothing to enter, and nothing wrong with the file.
            return [];
        }

        try
        {
            return await _store.AnswerAsync(enteredBy, content.Answers, new AnswerFile(fileName, sha256), cancellationToken);
        }
        catch (UserErrorException e)
        {
            // The store's own refusals (a sheet answered otherwise before, a date before the print…) name the sheet and row: let them through.
            await AuditRefusalAsync(enteredBy, fileName, sha256, content.SchoolCode, e, cancellationToken);
            throw;
        }
    }

    private async Task AuditRefusalAsync(Account actor, string fileName, string? sha256, string? schoolCode, UserErrorException refusal,
        CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await AuditLog.WriteAsync(connection, actor.Name, "confirmation.workbook.refused", null, schoolCode ?? actor.SchoolCode, fileName.Length > 255 ? fileName[..255] : fileName,
            new { file = fileName, sha256, reason = refusal.Text?.Code ?? refusal.GetType().Name }, cancellationToken);
    }

    /// <summary>The stream's bytes, or null as soon as they pass <paramref name="maxBytes"/>.</summary>
    private static async Task<byte[]?> ReadBoundedAsync(Stream file, long maxBytes, CancellationToken cancellationToken)
    {
        if (file.CanSeek && file.Length - file.Position > maxBytes)
        {
            return null;
        }

        using var memory = new MemoryStream();
        var buffer = new byte[81920];
        int read;
        while ((read = await file.ReadAsync(buffer, cancellationToken)) > 0)
        {
            memory.Write(buffer, 0, read);
            if (memory.Length > maxBytes)
            {
                return null;
            }
        }

        return memory.ToArray();
    }
}
