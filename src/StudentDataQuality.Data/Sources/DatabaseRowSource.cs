using System.Globalization;
using Npgsql;

namespace StudentDataQuality.Data.Sources;

/// <summary>
/// Rows of a query against the registry's own database (PostgreSQL), streamed with a server-side cursor-free
/// sequential reader. Column names are the headers (Chinese or English, as for files); values become the text a
/// file export would have carried (dates yyyy-MM-dd, numbers invariant, booleans 1/0).
/// </summary>
public sealed class DatabaseRowSource : IRowSource
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlCommand _command;
    private readonly NpgsqlDataReader _reader;
    private bool _exhausted;

    public DatabaseRowSource(string connectionString, string query)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        ArgumentException.ThrowIfNullOrEmpty(query);
        _dataSource = NpgsqlDataSource.Create(connectionString);
        try
        {
            _connection = _dataSource.OpenConnection();
            _command = new NpgsqlCommand(query, _connection) { CommandTimeout = 0 };
            _reader = _command.ExecuteReader(System.Data.CommandBehavior.SequentialAccess);
        }
        catch (PostgresException e)
        {
            _connection?.Dispose();
            _dataSource.Dispose();
            throw new UserErrorException(new UserMessage("Source.QueryFailed", e.MessageText, e.SqlState), e);
        }
        catch (NpgsqlException e)
        {
            _connection?.Dispose();
            _dataSource.Dispose();
            throw new UserErrorException(new UserMessage("Source.DatabaseUnreachable", e.Message), e);
        }

        Headers = Enumerable.Range(0, _reader.FieldCount).Select(_reader.GetName).ToArray();
        Name = "query";
    }

    public string Kind => "database";

    public string Name { get; }

    public string? Encoding => null;

    public IReadOnlyList<string> Headers { get; }

    public IEnumerable<SourceRow> Rows(CancellationToken cancellationToken)
    {
        var rowNumber = 1;
        while (Read())
        {
            cancellationToken.ThrowIfCancellationRequested();
            rowNumber++;
            var values = new string?[Headers.Count];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = _reader.IsDBNull(i) ? null : Text(_reader.GetValue(i));
            }

            yield return new SourceRow(null, rowNumber, values);
        }
    }

    private bool Read()
    {
        try
        {
            var more = _reader.Read();
            _exhausted = !more;
            return more;
        }
        catch (PostgresException e)
        {
            throw new UserErrorException(new UserMessage("Source.QueryFailedReading", e.MessageText, e.SqlState), e);
        }
    }

    private static string Text(object value) => value switch
    {
        string s => s,
        DateTime t => t.ToString(t.TimeOfDay == TimeSpan.Zero ? "yyyy-MM-dd" : "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
        DateOnly d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        bool b => b ? "1" : "0",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    public void Dispose()
    {
        if (!_exhausted)
        {
            // Abandoned part-way (the staging failed): stop the query instead of reading its remaining rows.
            try
            {
                _command.Cancel();
            }
            catch (NpgsqlException)
            {
            }
        }

        try
        {
            _reader.Dispose();
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.QueryCanceled)
        {
        }

        _command.Dispose();
        _connection.Dispose();
        _dataSource.Dispose();
    }
}
