using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace StudentDataQuality.Data.Embedded;

/// <summary>Where a private cluster lives and how it runs.</summary>
public sealed record EmbeddedPostgresOptions
{
    /// <summary>The folder that holds the cluster (pgdata, socket folder, log, settings).</summary>
    public required string DataDirectory { get; init; }

    /// <summary>The database the application uses inside the cluster.</summary>
    public string Database { get; init; } = "studentdataquality";

    /// <summary>
    /// Trade durability for speed (fsync off). Only for throw-away clusters such as the test suite's, never for
    /// data a user cares about.
    /// </summary>
    public bool Disposable { get; init; }

    /// <summary>A folder holding initdb and pg_ctl; found on PATH or under /usr/lib/postgresql when not given.</summary>
    public string? BinDirectory { get; init; }

    /// <summary>The default folder: under the user's local data folder, or /var/lib for root (see ResolveDefault).</summary>
    public static string DefaultDataDirectory()
    {
        // The server runs as the unprivileged postgres user when we are root, and postgres cannot reach into
        // /root; a system folder is where a root-owned service keeps its state anyway.
        if (OperatingSystem.IsLinux() && Environment.UserName == "root")
        {
            return "/var/lib/studentdataquality/db";
        }

        var local = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create);
        return Path.Combine(local, "StudentDataQuality", "db");
    }
}

/// <summary>What <see cref="EmbeddedPostgres.Status"/> found.</summary>
public sealed record EmbeddedPostgresStatus(string DataDirectory, bool Initialised, bool Running, int? Port, string? Version);

/// <summary>
/// A private PostgreSQL cluster the program starts itself when no connection string is configured: initdb once in
/// a data folder, then pg_ctl start on a free loopback port, reused by later runs. As root the server runs as the
/// postgres system user (PostgreSQL refuses to run as root). The superuser password is generated and kept in the
/// data folder, readable by the owner only.
/// </summary>
public sealed class EmbeddedPostgres
{
    private const string SettingsFile = "cluster.json";

    /// <summary>
    /// How the program's databases compare text: bytewise (collation "C"), which for UTF-8 is the order of the code
    /// points, the order the cluster's C.UTF-8 locale gives, without asking the C library for every comparison. The
    /// character classes stay those of the cluster (C.UTF-8). Sorting a round's text keys, as building its re-check
    /// indexes does, took 4.4 s for 1,000,000 records with C.UTF-8 and 2.6 s bytewise. Databases made before keep theirs.
    /// </summary>
    public const string DatabaseCollation = "TEMPLATE template0 LC_COLLATE 'C'";
    private readonly EmbeddedPostgresOptions _options;
    private readonly ILogger _logger;

    public EmbeddedPostgres(EmbeddedPostgresOptions options, ILogger<EmbeddedPostgres>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    private string Root => Path.GetFullPath(_options.DataDirectory);
    private string PgData => Path.Combine(Root, "pgdata");
    private string SocketDir => Path.Combine(Root, "sock");
    private string LogFile => Path.Combine(Root, "postgres.log");
    private string SettingsPath => Path.Combine(Root, SettingsFile);
    private static bool IsRoot => OperatingSystem.IsLinux() && Environment.UserName == "root";

    /// <summary>Initialises the cluster if needed, starts it if stopped, creates the database, and returns its connection string.</summary>
    public string Start()
    {
        // Fast path, the usual case: the cluster runs already and answers on its port.
        if (LoadSettings() is { } known && Answers(known))
        {
            return ConnectionString(known, _options.Database);
        }

        using var _ = AcquireFolderLock();
        var bin = FindBinaries();
        var settings = LoadSettings();
        if (settings is null || !File.Exists(Path.Combine(PgData, "PG_VERSION")))
        {
            settings = Initialise(bin);
        }

        if (!IsRunning(bin))
        {
            if (!PortIsFree(settings.Port))
            {
                settings = settings with { Port = FreePort() };
                SaveSettings(settings);
            }

            // A quarter of the machine's memory for the buffer cache, between 512 MB and 4 GB, decided at each start (so
            // an existing cluster follows the machine). The checks of a 3,000,000-record round read 2 GB of it twice
            // over: 258 s with 4 GB against 352 s with 512 MB (the latter on a busier machine).
            var memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
            var sharedBuffersMb = Math.Clamp(memory / 4 / 1_048_576, 512, 4096);
            var extra = $" -c shared_buffers={sharedBuffersMb}MB" + (_options.Disposable ? " -c fsync=off -c synchronous_commit=off -c full_page_writes=off" : "");
            RunServerTool(bin, "pg_ctl",
                ["-D", PgData, "-l", LogFile, "-w", "-t", "60", "-o",
                 $"-p {settings.Port} -k {SocketDir} -c listen_addresses=127.0.0.1{extra}", "start"],
                "start the embedded PostgreSQL server");
            _logger.LogInformation("Started embedded PostgreSQL in {DataDirectory} on port {Port}", Root, settings.Port);
        }

        var connectionString = ConnectionString(settings, _options.Database);
        EnsureDatabase(settings);
        return connectionString;
    }

    /// <summary>Stops the server (fast shutdown: open sessions are ended, committed data is safe).</summary>
    public bool Stop()
    {
        using var _ = AcquireFolderLock();
        var bin = FindBinaries();
        if (!File.Exists(Path.Combine(PgData, "PG_VERSION")) || !IsRunning(bin))
        {
            return false;
        }

        RunServerTool(bin, "pg_ctl", ["-D", PgData, "-m", "fast", "-w", "-t", "60", "stop"], "stop the embedded PostgreSQL server");
        return true;
    }

    public EmbeddedPostgresStatus Status()
    {
        var settings = LoadSettings();
        var initialised = settings is not null && File.Exists(Path.Combine(PgData, "PG_VERSION"));
        var running = initialised && IsRunning(FindBinaries());
        return new EmbeddedPostgresStatus(Root, initialised, running, settings?.Port, settings?.Version);
    }

    /// <summary>The connection string of an initialised cluster (whether or not it is running), or null.</summary>
    public string? ConnectionStringIfInitialised() =>
        LoadSettings() is { } settings ? ConnectionString(settings, _options.Database) : null;

    private static string ConnectionString(ClusterSettings settings, string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = settings.Port,
        Username = "postgres",
        Password = settings.Password,
        Database = database,
    }.ConnectionString;

    private ClusterSettings Initialise(ServerBinaries bin)
    {
        CreatePrivateRoot();
        if (Directory.Exists(PgData) && Directory.EnumerateFileSystemEntries(PgData).Any())
        {
            throw new UserErrorException(new UserMessage("Database.FolderNotCluster", PgData, SettingsFile));
        }

        Directory.CreateDirectory(PgData);
        Directory.CreateDirectory(SocketDir);
        File.WriteAllText(LogFile, "");
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
        var passwordFile = Path.Combine(Root, "initdb.pw");
        WritePrivateFile(passwordFile, password);
        var initialised = false;
        try
        {
            if (IsRoot)
            {
                CheckPostgresCanReach(Root);
                foreach (var path in new[] { PgData, SocketDir, LogFile, passwordFile })
                {
                    Run("chown", ["postgres:postgres", path], "give the cluster folders to the postgres user");
                }
            }

            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(PgData, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            RunServerTool(bin, "initdb",
                ["-D", PgData, "-U", "postgres", "-A", "scram-sha-256", "--pwfile", passwordFile, "-E", "UTF8", "--locale=C.UTF-8",
                 "--no-sync"],
                "initialise the embedded PostgreSQL cluster");
            initialised = true;
        }
        finally
        {
            File.Delete(passwordFile);
            if (!initialised && Directory.Exists(PgData))
            {
                // A half-made cluster would block every later attempt; the next start begins again from nothing.
                Directory.Delete(PgData, recursive: true);
            }
        }

        File.AppendAllText(Path.Combine(PgData, "postgresql.conf"), """

            # StudentDataQuality: sized for bulk staging and set-based checks on one machine.
            # A private single-node cluster: no replicas, so only the WAL needed for crash recovery. With minimal WAL a
            # round's partition, created and bulk-loaded in one transaction, is written once and synced at commit
            # instead of being logged row by row (https://www.postgresql.org/docs/15/populate.html#POPULATE-PITR).
            wal_level = minimal
            max_wal_senders = 0
            shared_buffers = 512MB
            work_mem = 64MB
            maintenance_work_mem = 512MB
            max_wal_size = 4GB
            checkpoint_timeout = 15min
            max_connections = 200
            jit = off
            """);
        var settings = new ClusterSettings(FreePort(), password, bin.Version);
        SaveSettings(settings);
        _logger.LogInformation("Initialised embedded PostgreSQL {Version} in {DataDirectory}", bin.Version, Root);
        return settings;
    }

    /// <summary>Whether the cluster accepts a connection to the application database (which Start creates).</summary>
    private bool Answers(ClusterSettings settings)
    {
        var probe = new NpgsqlConnectionStringBuilder(ConnectionString(settings, _options.Database)) { Pooling = false, Timeout = 2 };
        try
        {
            using var connection = new NpgsqlConnection(probe.ConnectionString);
            connection.Open();
            return true;
        }
        catch (NpgsqlException)
        {
            return false;
        }
    }

    private void EnsureDatabase(ClusterSettings settings)
    {
        // Unpooled: a pooled connection would not survive a stop and start of the server within one process.
        var admin = new NpgsqlConnectionStringBuilder(ConnectionString(settings, "postgres")) { Pooling = false }.ConnectionString;
        using var connection = new NpgsqlConnection(admin);
        connection.Open();
        using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
        exists.Parameters.AddWithValue("name", _options.Database);
        if (exists.ExecuteScalar() is null)
        {
            // A database name cannot be a parameter; it comes from options, checked against a strict pattern.
            if (!System.Text.RegularExpressions.Regex.IsMatch(_options.Database, "^[a-z_][a-z0-9_]{0,62}$"))
            {
                throw new UserErrorException(new UserMessage("Database.NameInvalid", _options.Database));
            }

            try
            {
                using var create = new NpgsqlCommand($"CREATE DATABASE {_options.Database} {DatabaseCollation}", connection);
                create.ExecuteNonQuery();
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DuplicateDatabase)
            {
                // Another process created it between our check and our CREATE: that is what we wanted.
            }
        }
    }

    private bool IsRunning(ServerBinaries bin)
    {
        if (!File.Exists(Path.Combine(PgData, "PG_VERSION")))
        {
            return false;
        }

        var result = RunServerToolRaw(bin, "pg_ctl", ["-D", PgData, "status"]);
        return result.ExitCode == 0;
    }

    private ServerBinaries FindBinaries()
    {
        var candidates = new List<string>();
        if (_options.BinDirectory is { Length: > 0 } configured)
        {
            candidates.Add(configured);
        }
        else
        {
            candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
            if (Directory.Exists("/usr/lib/postgresql"))
            {
                candidates.AddRange(Directory.GetDirectories("/usr/lib/postgresql")
                    .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var v) ? v : 0)
                    .Select(d => Path.Combine(d, "bin")));
            }
        }

        foreach (var dir in candidates)
        {
            if (File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")) && File.Exists(Path.Combine(dir, "postgres")))
            {
                var version = Run(Path.Combine(dir, "pg_ctl"), ["--version"], "read the PostgreSQL version").Output.Trim();
                var number = System.Text.RegularExpressions.Regex.Match(version, @"\d+(\.\d+)+");
                return new ServerBinaries(dir, number.Success ? number.Value : version);
            }
        }

        throw new UserErrorException(new UserMessage("Database.ServerProgramsMissing"));
    }

    private static void CheckPostgresCanReach(string folder)
    {
        var probe = Run("runuser", ["-u", "postgres", "--", "test", "-x", folder], "check folder access", throwOnError: false);
        if (probe.ExitCode != 0)
        {
            throw new UserErrorException(new UserMessage("Database.FolderUnreachable", folder));
        }
    }

    private void RunServerTool(ServerBinaries bin, string tool, IReadOnlyList<string> args, string purpose)
    {
        var result = RunServerToolRaw(bin, tool, args);
        if (result.ExitCode != 0)
        {
            var log = File.Exists(LogFile) ? TailOf(LogFile, 8) : "";
            // The purpose is for the log; the person reads the command that failed and what it said.
            _logger.LogWarning("Could not {Purpose}: {Tool} exited with {ExitCode}", purpose, tool, result.ExitCode);
            throw new UserErrorException(new UserMessage("Database.ToolFailed", $"{tool} {string.Join(' ', args)}", result.ExitCode,
                $"{result.Output.Trim()} {log}".Trim(), LogFile));
        }
    }

    private static ProcessResult RunServerToolRaw(ServerBinaries bin, string tool, IReadOnlyList<string> args)
    {
        var path = Path.Combine(bin.Directory, tool);
        return IsRoot
            ? Run("runuser", ["-u", "postgres", "--", path, .. args], tool, throwOnError: false)
            : Run(path, args, tool, throwOnError: false);
    }

    private static ProcessResult Run(string file, IReadOnlyList<string> args, string purpose, bool throwOnError = true)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            // pg_ctl's server inherits this directory; "/" is always readable by the postgres user.
            WorkingDirectory = "/",
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file} to {purpose}.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new UserErrorException(new UserMessage("Database.ProgramNotStarted", file, e.Message), e);
        }

        using var _ = process;
        // The server started by pg_ctl keeps the pipes open; read until pg_ctl itself exits, not to end of stream.
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        var output = (stdout.Wait(TimeSpan.FromSeconds(2)) ? stdout.Result : "") + (stderr.Wait(TimeSpan.FromSeconds(2)) ? stderr.Result : "");
        if (throwOnError && process.ExitCode != 0)
        {
            throw new UserErrorException(new UserMessage("Database.ProgramFailed", file, process.ExitCode, output.Trim()));
        }

        return new ProcessResult(process.ExitCode, output);
    }

    private static string TailOf(string path, int lines)
    {
        try
        {
            return string.Join(" | ", File.ReadLines(path).TakeLast(lines));
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool PortIsFree(int port)
    {
        try
        {
            // Bound as PostgreSQL binds (SO_REUSEADDR): the closed connections of a server just stopped linger in TIME_WAIT on
            // its port, which must not count as taken, or a quick restart would move the server to another port under the
            // feet of the processes that use it.
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Two processes (a CLI and a test run, two CLIs) must not initialise or start the same cluster at once.</summary>
    private FileStream AcquireFolderLock()
    {
        Directory.CreateDirectory(Root);
        var path = Path.Combine(Root, ".lock");
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(100);
            }
        }
    }

    private ClusterSettings? LoadSettings() =>
        File.Exists(SettingsPath) ? JsonSerializer.Deserialize<ClusterSettings>(File.ReadAllText(SettingsPath)) : null;

    /// <summary>Written whole and renamed into place, readable by the owner only from the first byte.</summary>
    private void SaveSettings(ClusterSettings settings)
    {
        var temporary = SettingsPath + ".new";
        WritePrivateFile(temporary, JsonSerializer.Serialize(settings));
        File.Move(temporary, SettingsPath, overwrite: true);
    }

    /// <summary>
    /// A secret the embedded deployment keeps beside its database (e.g. the worksheet signing key): read when it is
    /// there, else made by <paramref name="create"/> and written readable by the owner only from the first byte. Two
    /// processes making it at once agree on the first one written.
    /// </summary>
    public string LoadOrCreateSecret(string name, Func<string> create)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(create);
        if (name.IndexOfAny(['/', '\\']) >= 0 || name.StartsWith('.'))
        {
            throw new ArgumentException($"'{name}' is not a plain file name.", nameof(name));
        }

        var path = Path.Combine(Root, name);
        if (!File.Exists(path))
        {
            CreatePrivateRoot();
            var temporary = $"{path}.{Guid.NewGuid():N}.new";
            WritePrivateFile(temporary, create());
            try
            {
                File.Move(temporary, path, overwrite: false);
            }
            catch (IOException) when (File.Exists(path))
            {
                File.Delete(temporary);
            }
        }

        return File.ReadAllText(path).Trim();
    }

    private static void WritePrivateFile(string path, string content)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        File.Delete(path);
        using var writer = new StreamWriter(path, System.Text.Encoding.UTF8, options);
        writer.Write(content);
    }

    /// <summary>
    /// The data folder is the owner's alone; as root it must still let the postgres user pass through to the
    /// cluster folders it owns (traverse, not list).
    /// </summary>
    private void CreatePrivateRoot()
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(Root);
            return;
        }

        var mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        if (IsRoot)
        {
            mode |= UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        }

        Directory.CreateDirectory(Root, mode);
        File.SetUnixFileMode(Root, mode);
    }

    private sealed record ClusterSettings(int Port, string Password, string Version);

    private sealed record ServerBinaries(string Directory, string Version);

    private sealed record ProcessResult(int ExitCode, string Output);
}
