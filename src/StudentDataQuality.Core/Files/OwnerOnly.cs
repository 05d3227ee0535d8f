namespace StudentDataQuality.Files;

/// <summary>
/// Files with the personal data of minors (worksheets, receipts, returns, change sets, reminders, manifests, account
/// lists) are the owner's alone, as the secrets are: files 0600, and the folders the program creates for them 0700.
/// A folder that exists already is left as it is (the user chose it); a file written over is made 0600 again. On
/// Windows the folder's inherited access applies.
/// </summary>
public static class OwnerOnly
{
    /// <summary>Read and write for the owner: 0600.</summary>
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Read, write and enter for the owner: 0700.</summary>
    public const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Creates the folder (and any missing parent) 0700; an existing one is left as it is.</summary>
    public static DirectoryInfo CreateDirectory(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (OperatingSystem.IsWindows())
        {
            return Directory.CreateDirectory(path);
        }

        // Directory.CreateDirectory(path, mode) gives the mode to the last folder only; missing parents are made one by
        // one, from the top, so that each is owner-only too.
        var missing = new Stack<string>();
        for (var folder = Path.GetFullPath(path); folder is not null && !Directory.Exists(folder); folder = Path.GetDirectoryName(folder))
        {
            missing.Push(folder);
        }

        while (missing.TryPop(out var folder))
        {
            Directory.CreateDirectory(folder, FolderMode);
        }

        return new DirectoryInfo(path);
    }

    /// <summary>
    /// Moves a file the program takes in (a return from the inbox) into one of its own folders, created 0700, and makes it
    /// 0600: a file keeps the mode it was sent with otherwise.
    /// </summary>
    public static void Move(string source, string target, bool overwrite = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(source);
        ArgumentException.ThrowIfNullOrEmpty(target);
        if (Path.GetDirectoryName(Path.GetFullPath(target)) is { } folder && !Directory.Exists(folder))
        {
            CreateDirectory(folder);
        }

        File.Move(source, target, overwrite);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(target, FileMode);
        }
    }

    /// <summary>Opens a file for writing, 0600 from its creation (and made 0600 when it existed), its folder created 0700.</summary>
    /// <param name="mode"><see cref="System.IO.FileMode.Create"/> to write over, <see cref="System.IO.FileMode.CreateNew"/> to refuse an existing file.</param>
    public static FileStream Create(string path, System.IO.FileMode mode = System.IO.FileMode.Create)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } folder && !Directory.Exists(folder))
        {
            CreateDirectory(folder);
        }

        var options = new FileStreamOptions { Mode = mode, Access = FileAccess.Write, Share = FileShare.None };
        if (OperatingSystem.IsWindows())
        {
            return new FileStream(path, options);
        }

        options.UnixCreateMode = FileMode;
        var stream = new FileStream(path, options);
        // UnixCreateMode applies only to a file the call creates; one written over keeps its mode unless told.
        File.SetUnixFileMode(stream.SafeFileHandle, FileMode);
        return stream;
    }

    /// <summary>Writes the bytes to a new or replaced file, 0600.</summary>
    public static async Task WriteAllBytesAsync(string path, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
    {
        await using var stream = Create(path);
        await stream.WriteAsync(bytes, cancellationToken);
    }

    /// <summary>Writes the text (UTF-8 without a byte order mark) to a new or replaced file, 0600.</summary>
    public static Task WriteAllTextAsync(string path, string text, CancellationToken cancellationToken = default) =>
        WriteAllBytesAsync(path, System.Text.Encoding.UTF8.GetBytes(text), cancellationToken);
}
