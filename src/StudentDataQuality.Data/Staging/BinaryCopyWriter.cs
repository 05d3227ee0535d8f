using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Threading.Channels;
using Npgsql;

namespace StudentDataQuality.Data.Staging;

/// <summary>
/// Writes PostgreSQL's binary COPY format (the same wire format Npgsql's binary importer produces) straight into a
/// raw COPY stream: each value is encoded once into one buffer, without a per-value binding step. Staging writes some
/// fifty values per record, and the per-value overhead of the general-purpose importer was most of the client's time.
/// Format: https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
/// Filled buffers go to the server from a second thread, so that reading and encoding the next rows overlaps with
/// sending the last ones (the server and the reader then keep each other busy instead of taking turns).
/// </summary>
internal sealed class BinaryCopyWriter : IDisposable
{
    private const int TextOid = 25;
    private static readonly byte[] Signature = [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0];
    private static readonly int PostgresEpochDay = new DateOnly(2000, 1, 1).DayNumber;

    private const int BufferSize = 1 << 20;
    private readonly NpgsqlRawCopyStream _stream;
    private readonly Channel<(byte[] Buffer, int Length)> _filled = Channel.CreateBounded<(byte[], int)>(
        new BoundedChannelOptions(4) { SingleReader = true, SingleWriter = true });
    private readonly Task _sender;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    private int _position;
    private bool _completed;

    public BinaryCopyWriter(NpgsqlConnection connection, string copyCommand)
    {
        _stream = connection.BeginRawBinaryCopy(copyCommand);
        _sender = Task.Run(SendAsync);
        Signature.CopyTo(_buffer, 0);
        _position = Signature.Length;
        WriteRawInt32(0); // flags
        WriteRawInt32(0); // header extension length
    }

    public void StartRow(short fieldCount)
    {
        Ensure(2);
        BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_position), fieldCount);
        _position += 2;
    }

    public void WriteNull() => WriteRawInt32(-1);

    public void WriteInt16(short value)
    {
        WriteRawInt32(2);
        Ensure(2);
        BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_position), value);
        _position += 2;
    }

    public void WriteInt32(int value)
    {
        WriteRawInt32(4);
        WriteRawInt32(value);
    }

    public void WriteInt64(long value)
    {
        WriteRawInt32(8);
        Ensure(8);
        BinaryPrimitives.WriteInt64BigEndian(_buffer.AsSpan(_position), value);
        _position += 8;
    }

    public void WriteBoolean(bool value)
    {
        WriteRawInt32(1);
        Ensure(1);
        _buffer[_position++] = value ? (byte)1 : (byte)0;
    }

    /// <summary>A date is the number of days since 2000-01-01.</summary>
    public void WriteDate(DateOnly value) => WriteInt32(value.DayNumber - PostgresEpochDay);

    public void WriteText(string? value)
    {
        if (value is null)
        {
            WriteNull();
            return;
        }

        Ensure(4 + Encoding.UTF8.GetMaxByteCount(value.Length));
        var length = Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_position + 4));
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_position), length);
        _position += 4 + length;
    }

    /// <summary>A one-dimensional text[] (array_recv layout: dimensions, null flag, element type, bounds, elements).</summary>
    public void WriteTextArray(IReadOnlyList<string?> values)
    {
        var length = 20;
        foreach (var value in values)
        {
            length += 4 + (value is null ? 0 : Encoding.UTF8.GetByteCount(value));
        }

        WriteRawInt32(length);
        WriteRawInt32(1);
        WriteRawInt32(values.Any(v => v is null) ? 1 : 0);
        WriteRawInt32(TextOid);
        WriteRawInt32(values.Count);
        WriteRawInt32(1);
        foreach (var value in values)
        {
            WriteText(value);
        }
    }

    /// <summary>Ends the COPY: the rows are in the table (inside the caller's transaction) when this returns.</summary>
    public void Complete()
    {
        Ensure(2);
        BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_position), -1);
        _position += 2;
        Flush();
        _filled.Writer.TryComplete();
        // The sender's failure, if any, is the one to report (the server's refusal, a broken connection).
        _sender.GetAwaiter().GetResult();
        _stream.Dispose();
        _completed = true;
    }

    /// <summary>
    /// Never throws: on the way out of a failure it stops the sender and tells the server to drop the COPY, so that
    /// the caller's exception (say, a file found cut off at its last row) is the one that surfaces, and nothing is kept.
    /// </summary>
    public void Dispose()
    {
        if (!_completed)
        {
            _filled.Writer.TryComplete();
            try
            {
                _sender.Wait();
            }
            catch (AggregateException)
            {
                // Already reported, or beside the point: the COPY is being abandoned.
            }

            try
            {
                _stream.Cancel();
            }
            catch (Exception e) when (e is NpgsqlException or IOException or ObjectDisposedException or InvalidOperationException)
            {
                // The server may have ended the COPY already (it refused the data); the transaction is rolled back anyway.
            }

            try
            {
                _stream.Dispose();
            }
            catch (Exception e) when (e is NpgsqlException or IOException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }

        ArrayPool<byte>.Shared.Return(_buffer);
    }

    private async Task SendAsync()
    {
        try
        {
            await foreach (var (buffer, length) in _filled.Reader.ReadAllAsync())
            {
                try
                {
                    _stream.Write(buffer, 0, length);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        catch (Exception e)
        {
            // Make the reading side stop at its next buffer, and give back what it had queued.
            _filled.Writer.TryComplete(e);
            while (_filled.Reader.TryRead(out var queued))
            {
                ArrayPool<byte>.Shared.Return(queued.Buffer);
            }

            throw;
        }
    }

    private void WriteRawInt32(int value)
    {
        Ensure(4);
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_position), value);
        _position += 4;
    }

    private void Ensure(int bytes)
    {
        if (_position + bytes <= _buffer.Length)
        {
            return;
        }

        Flush(Math.Max(bytes, BufferSize));
    }

    /// <summary>Hands the filled buffer to the sender (waiting while it is four buffers behind) and takes a fresh one.</summary>
    private void Flush(int nextSize = BufferSize)
    {
        var filled = (_buffer, _position);
        _buffer = ArrayPool<byte>.Shared.Rent(nextSize);
        _position = 0;
        if (_filled.Writer.TryWrite(filled))
        {
            return;
        }

        try
        {
            _filled.Writer.WriteAsync(filled).AsTask().GetAwaiter().GetResult();
        }
        catch (ChannelClosedException)
        {
            ArrayPool<byte>.Shared.Return(filled.Item1);
            // The sender failed: its exception is the one to report.
            _sender.GetAwaiter().GetResult();
            throw;
        }
    }
}
