using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;
using StudentDataQuality.Data.Staging;

namespace StudentDataQuality.Data.Quality;

/// <summary>What one check run found, and where its time went (per phase and per rule, in milliseconds).</summary>
public sealed record CheckRunResult(long RunId, Round Round, IReadOnlyDictionary<string, long> FindingsByRule, IReadOnlyList<PhaseTime> PhaseMs,
    IReadOnlyDictionary<string, long> RuleMs);

/// <summary>
/// The wall time of one phase of a check run: stages <paramref name="First"/> to <paramref name="Last"/>, whose rules ran
/// side by side (they read the same input: no stage among them but the last sets values aside), and storing their findings.
/// <paramref name="QueriesMs"/> is the part until the last rule query was read back; the rest stored the findings and set
/// values aside for the next phase.
/// </summary>
public sealed record PhaseTime(RuleStage First, RuleStage Last, long Ms, long QueriesMs)
{
    /// <summary>"1", or "3-6" for stages 3 to 6.</summary>
    public string Stages => First == Last
        ? ((int)First).ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{(int)First}-{(int)Last}");
}

/// <summary>What a check run looks at: the whole round, or some records of it (a re-check after corrections).</summary>
public sealed class CheckScope
{
    private CheckScope(IReadOnlyCollection<long>? recordIds) => RecordIds = recordIds;

    /// <summary>Every record of the round.</summary>
    public static CheckScope Round { get; } = new(null);

    /// <summary>Some records of the round and, for each rule, their partners (<see cref="Rule.PartnerFields"/>).</summary>
    public static CheckScope Records(IReadOnlyCollection<long> recordIds)
    {
        ArgumentNullException.ThrowIfNull(recordIds);
        return new CheckScope(recordIds.Distinct().ToArray());
    }

    /// <summary>The records re-checked; null for the whole round.</summary>
    public IReadOnlyCollection<long>? RecordIds { get; }

    public bool IsWholeRound => RecordIds is null;

    public override string ToString() => RecordIds is null ? "round" : $"{RecordIds.Count} records";
}

/// <summary>What the checks take from the deployment.</summary>
public sealed record CheckOptions
{
    /// <summary>The two-digit province code that every school identification code carries (F09, T01–T03); 23 is Heilongjiang.</summary>
    public string Province { get; init; } = "23";

    /// <summary>
    /// How many rule queries of a whole-round run go at a time, each on its own connection to the database: one per core
    /// of the database server (2 here); 1 runs them one after another.
    /// </summary>
    public int ConcurrentRules { get; init; } = 2;
}

/// <summary>
/// Runs the rule catalogue over a round, stage by stage, in the database. There is one way to run a rule whatever the
/// scope: its own set-based query of its failing records (timed), read back and kept; then each stage's findings are
/// stored by one script (sql/checks/store_findings.sql). After stages 1 and 2 the values that failed are set aside,
/// and later stages read the round through checked_record, which hides them: one bad value, one finding. Stages that
/// read the same input (3 to 6) form one phase, whose rules run side by side.
/// A re-check (<see cref="CheckScope.Records"/>) runs the same rules on some records and their partners, and each
/// rule's findings replace its earlier ones in the scope checked (superseded when found again, resolved when gone), so
/// a re-check equals a full run; a finding seen before (same rule, school, student and field, this round or the
/// previous) keeps its first round. The run, the rule versions, the counts and the time of each phase and rule are
/// recorded in quality.check_run.
/// </summary>
public sealed class CheckRunner
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly CheckOptions _options;
    private readonly ILogger _logger;

    public CheckRunner(NpgsqlDataSource dataSource, ILogger<CheckRunner>? logger = null, CheckOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        _dataSource = dataSource;
        _options = options ?? new CheckOptions();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Writes the catalogue into quality.rule (and each new rule text into quality.rule_version).</summary>
    public static async Task SyncCatalogAsync(NpgsqlConnection connection, IReadOnlyList<Rule> rules, CancellationToken cancellationToken)
    {
        // What the database knows: each rule's current version and the sha256 of each kept text. A re-check (one per
        // returned file) finds them all in place and writes nothing.
        var known = new Dictionary<(string, int), string>();
        var entries = new Dictionary<string, string>(StringComparer.Ordinal);
        await using (var read = new NpgsqlCommand("""
            SELECT v.rule_id, v.version, v.sha256,
                   (SELECT concat_ws(E'\x1f', r.version, r.stage, r.severity, array_to_string(r.fields, ','), r.title_en, r.title_zh, r.fix_en, r.fix_zh)
                    FROM quality.rule r WHERE r.rule_id = v.rule_id)
            FROM   quality.rule_version v
            """, connection))
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                known[(reader.GetString(0), reader.GetInt32(1))] = reader.GetString(2);
                entries[reader.GetString(0)] = reader.IsDBNull(3) ? "" : reader.GetString(3);
            }
        }

        foreach (var rule in rules)
        {
            var sha = known.GetValueOrDefault((rule.Id, rule.Version));
            var entry = string.Join('\u001f', rule.Version, rule.Stage, rule.Severity, string.Join(',', rule.Fields), rule.TitleEn, rule.TitleZh, rule.FixEn,
                rule.FixZh);
            if (sha == rule.Sha256 && entries.GetValueOrDefault(rule.Id) == entry)
            {
                continue;
            }

            if (sha is not null && sha != rule.Sha256)
            {
                throw new InvalidOperationException(
                    $"Rule {rule.Id} version {rule.Version} was changed after it was used. Give the changed rule a new version in its header.");
            }

            await using var upsert = new NpgsqlCommand("""
                INSERT INTO quality.rule (rule_id, stage, severity, fields, title_en, title_zh, fix_en, fix_zh, version)
                VALUES (@id, @stage, @severity, @fields, @ten, @tzh, @fen, @fzh, @v)
                ON CONFLICT (rule_id) DO UPDATE SET stage = excluded.stage, severity = excluded.severity, fields = excluded.fields,
                    title_en = excluded.title_en, title_zh = excluded.title_zh, fix_en = excluded.fix_en, fix_zh = excluded.fix_zh,
                    version = excluded.version;
                INSERT INTO quality.rule_version (rule_id, version, sha256, sql) VALUES (@id, @v, @sha, @sql)
                ON CONFLICT (rule_id, version) DO NOTHING;
                """, connection);
            upsert.Parameters.AddWithValue("id", rule.Id);
            upsert.Parameters.AddWithValue("stage", (short)rule.Stage);
            upsert.Parameters.AddWithValue("severity", rule.Severity);
            upsert.Parameters.AddWithValue("fields", rule.Fields.ToArray());
            upsert.Parameters.AddWithValue("ten", rule.TitleEn);
            upsert.Parameters.AddWithValue("tzh", rule.TitleZh);
            upsert.Parameters.AddWithValue("fen", rule.FixEn);
            upsert.Parameters.AddWithValue("fzh", rule.FixZh);
            upsert.Parameters.AddWithValue("v", rule.Version);
            upsert.Parameters.AddWithValue("sha", rule.Sha256);
            upsert.Parameters.AddWithValue("sql", rule.Sql);
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>Runs every rule over the whole round.</summary>
    public async Task<CheckRunResult> RunAsync(string roundCode, string actor, IReadOnlyList<Rule>? rules = null, CancellationToken cancellationToken = default) =>
        await RunInTransactionAsync(roundCode, CheckScope.Round, actor, rules, cancellationToken);

    /// <summary>
    /// Re-checks some records of a round, typically after corrections gave them new versions: the same rules on just
    /// those records and their cross-record partners (each rule's <see cref="Rule.PartnerFields"/>). The findings in that
    /// scope are replaced as a full run would replace them: the result equals a full re-run's.
    /// </summary>
    public async Task<CheckRunResult> RecheckAsync(string roundCode, IReadOnlyCollection<long> recordIds, string actor, IReadOnlyList<Rule>? rules = null,
        CancellationToken cancellationToken = default) =>
        await RunInTransactionAsync(roundCode, CheckScope.Records(recordIds), actor, rules, cancellationToken);

    private async Task<CheckRunResult> RunInTransactionAsync(string roundCode, CheckScope scope, string actor, IReadOnlyList<Rule>? rules,
        CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        var round = await RoundStore.FindAsync(connection, roundCode, cancellationToken)
            ?? throw new UserErrorException(new UserMessage("Staging.RoundNotFound", roundCode));
        // A whole round's rules run several at a time, on this connection and on more, so that every core works: a rule
        // query keeps one core busy (PostgreSQL's own parallel plans are few for them: a CTE, a sort or a temporary table
        // rules them out). The other connections only read, each in a transaction of its own that keeps nothing; a
        // re-check reads a few records and needs none.
        var others = new List<NpgsqlConnection>();
        var readers = new List<(NpgsqlConnection Connection, NpgsqlTransaction Transaction)>();
        try
        {
            for (var i = 1; scope.IsWholeRound && i < _options.ConcurrentRules; i++)
            {
                others.Add(await _dataSource.OpenConnectionAsync(cancellationToken));
            }

            if (scope.IsWholeRound)
            {
                await AnalyzeAsync([connection, .. others], round, cancellationToken);
            }

            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            foreach (var reader in others)
            {
                readers.Add((reader, await reader.BeginTransactionAsync(cancellationToken)));
            }

            var result = await RunAsync(connection, readers.Select(r => r.Connection).ToList(), round, scope, actor, rules, analyzed: true, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return result;
        }
        finally
        {
            foreach (var (_, readerTransaction) in readers)
            {
                await readerTransaction.DisposeAsync();
            }

            foreach (var reader in others)
            {
                await reader.DisposeAsync();
            }
        }
    }

    /// <summary>The check itself, inside the caller's transaction (an ingest re-checks what it changed before it commits).</summary>
    public Task<CheckRunResult> RunAsync(NpgsqlConnection connection, Round round, CheckScope scope, string actor, IReadOnlyList<Rule>? rules,
        CancellationToken cancellationToken) => RunAsync(connection, [], round, scope, actor, rules, analyzed: false, cancellationToken);

    /// <summary>
    /// Fresh statistics for what the rules filter, group and join by, before a whole round is checked: without them the
    /// planner takes a round for a few rows and picks nested loops (minutes instead of seconds on the cross-record rules).
    /// Each table is analysed on a connection of its own, at once, outside the check's transactions: statistics written
    /// in a transaction are seen by the other connections only once it commits (their rule queries would plan without
    /// them). A round's records that were analysed and changed little since (a tenth) are left as they are: a data team
    /// re-runs the checks of a round many times.
    /// </summary>
    private static async Task AnalyzeAsync(IReadOnlyList<NpgsqlConnection> connections, Round round, CancellationToken cancellationToken)
    {
        await Execute(connections[0], "SELECT registry.ensure_round_partitions(@round)", cancellationToken, ("round", round.RoundId));
        var tables = new List<string> { "registry.school" };
        foreach (var partition in round.PreviousRoundId is { } before ? new[] { round.RoundId, before } : [round.RoundId])
        {
            var table = $"record_version_r{partition}";
            var stale = await ScalarAsync<bool>(connections[0], """
                SELECT coalesce((SELECT (s.last_analyze IS NULL AND s.last_autoanalyze IS NULL) OR s.n_mod_since_analyze * 10 > s.n_live_tup
                                 FROM pg_stat_user_tables s WHERE s.schemaname = 'registry' AND s.relname = @table), true)
                """, cancellationToken, ("table", table));
            if (stale)
            {
                tables.Insert(0, "registry." + table);
            }
        }

        var pending = new ConcurrentQueue<string>(tables);
        await Task.WhenAll(connections.Select(async each =>
        {
            while (pending.TryDequeue(out var table))
            {
                await Execute(each, $"ANALYZE {table}", cancellationToken);
            }
        }));
    }

    /// <summary>
    /// The check, with more connections (each in a transaction of its own) whose rule queries run beside those of
    /// <paramref name="connection"/>; none to run them one after another on it.
    /// </summary>
    private async Task<CheckRunResult> RunAsync(NpgsqlConnection connection, IReadOnlyList<NpgsqlConnection> readers, Round round, CheckScope scope,
        string actor, IReadOnlyList<Rule>? rules, bool analyzed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(round);
        ArgumentNullException.ThrowIfNull(scope);
        rules ??= RuleCatalog.All;
        var whole = scope.IsWholeRound;
        await Execute(connection, "SELECT pg_advisory_xact_lock(hashtext('sdq.check:' || @code))", cancellationToken, ("code", round.Code));
        await Execute(connection, WorkMemory, cancellationToken);
        await SyncCatalogAsync(connection, rules, cancellationToken);
        await Execute(connection, "SELECT registry.ensure_round_partitions(@round)", cancellationToken, ("round", round.RoundId));
        if (whole && !analyzed)
        {
            // Fresh statistics (see AnalyzeAsync), here in the caller's transaction.
            foreach (var partition in round.PreviousRoundId is { } before ? new[] { round.RoundId, before } : [round.RoundId])
            {
                await Execute(connection, $"ANALYZE registry.record_version_r{partition}", cancellationToken);
            }

            await Execute(connection, "ANALYZE registry.school", cancellationToken);
        }

        var runId = await ScalarAsync<long>(connection, """
            INSERT INTO quality.check_run (round_id, scope, actor, rule_versions)
            VALUES (@round, @scope, @actor, @versions) RETURNING run_id
            """, cancellationToken, ("round", round.RoundId), ("scope", whole ? "full" : "records"), ("actor", actor),
            ("versions", new Jsonb(JsonSerializer.Serialize(rules.ToDictionary(r => r.Id, r => r.Version)))));
        // The run's scratch objects live in the session; a caller may run more than one check in a transaction. The
        // values set aside after stages 1 and 2 are the run's rows of quality.check_failed_field (checked_record.sql).
        await Execute(connection, """
            SELECT set_config('sdq.check_run', @run::text, true);
            DROP VIEW IF EXISTS pg_temp.checked_record, pg_temp.checked_input, pg_temp.hidden_source, pg_temp.checked_source;
            DROP TABLE IF EXISTS pg_temp.checked_record, pg_temp.hidden_record, pg_temp.rule_result, pg_temp.recheck_record, pg_temp.rule_scope, pg_temp.scope_school, pg_temp.scope_record,
                                 pg_temp.stage_rule;
            CREATE TEMP TABLE rule_result (record_id bigint, school_code text, field text, value text, detail text, severity text, rule_id text) ON COMMIT DROP;
            CREATE TEMP TABLE stage_rule (rule_id text PRIMARY KEY, rule_version integer NOT NULL, severity text NOT NULL, partner_set integer NOT NULL,
                                          school_level boolean NOT NULL, invalidates boolean NOT NULL) ON COMMIT DROP;
            CREATE TEMP TABLE recheck_record (record_id bigint PRIMARY KEY) ON COMMIT DROP;
            CREATE TEMP TABLE rule_scope (partner_set integer NOT NULL, record_id bigint NOT NULL, PRIMARY KEY (partner_set, record_id)) ON COMMIT DROP;
            CREATE TEMP TABLE scope_school (school_code text PRIMARY KEY) ON COMMIT DROP;
            """, cancellationToken, ("run", runId));
        var partnerSets = new Dictionary<string, int>();
        var wholeCopy = new HashSet<int>();
        if (whole)
        {
            // The rules read checked_record over checked_source: here the round as it is. scope_record is a re-check's
            // copy of its records; empty here, so that the findings script is one text for both scopes.
            await Execute(connection, $"""
                CREATE TEMP TABLE scope_record ON COMMIT DROP AS SELECT * FROM registry.current_record WITH NO DATA;
                CREATE TEMP VIEW checked_source AS {WholeRoundSource};
                """, cancellationToken);
        }
        else
        {
            partnerSets = await ScopeAsync(connection, rules, round, scope.RecordIds!, cancellationToken);
            wholeCopy = await OwnSourcesAsync(connection, partnerSets.Values, cancellationToken);
        }

        await Execute(connection, SqlScripts.Load("checks/checked_record.sql") + (whole ? CheckedRecordView : CheckedRecordTable), cancellationToken);
        var connections = new List<NpgsqlConnection> { connection };
        foreach (var reader in readers)
        {
            // The same view of the round as the run's own connection: its settings, views and (after each stage) the
            // values set aside so far. A query per core already keeps the cores busy: no parallel workers on top.
            await Execute(reader, $"""
                {WorkMemory};
                SELECT set_config('sdq.check_run', @run::text, true);
                DROP VIEW IF EXISTS pg_temp.checked_record, pg_temp.checked_input, pg_temp.hidden_source, pg_temp.checked_source;
                DROP TABLE IF EXISTS pg_temp.hidden_record;
                CREATE TEMP VIEW checked_source AS {WholeRoundSource};
                """, cancellationToken, ("run", runId));
            await Execute(reader, SqlScripts.Load("checks/checked_record.sql") + CheckedRecordView, cancellationToken);
            connections.Add(reader);
        }

        foreach (var each in connections.Count > 1 ? connections : [])
        {
            await Execute(each, "SET LOCAL max_parallel_workers_per_gather = 0", cancellationToken);
        }

        var counts = new Dictionary<string, long>();
        var phaseMs = new List<PhaseTime>();
        var ruleMs = new Dictionary<string, long>();
        var first = true;
        foreach (var phase in Phases(rules))
        {
            var watch = Stopwatch.StartNew();
            // Each connection takes the next query of the phase until none is left: the rules that group records (they name
            // partners) first, as they take longest, so that no connection is left with a long one at the end; then the
            // phase's row rules, all in one query (one read of the round for all of them); then the other rules one by one.
            var phaseRules = phase.SelectMany(stage => stage).ToList();
            var rowRules = phaseRules.Where(r => r.Row is not null).ToList();
            var pending = new ConcurrentQueue<IReadOnlyList<Rule>>(phaseRules.Where(r => r.PartnerFields.Count > 0).Select(r => (IReadOnlyList<Rule>)[r])
                .Concat(rowRules.Count > 0 ? [rowRules] : [])
                .Concat(phaseRules.Where(r => r.PartnerFields.Count == 0 && r.Row is null).Select(r => (IReadOnlyList<Rule>)[r])));
            var failing = new Dictionary<string, List<Failing>>();
            if (!whole && first)
            {
                await Execute(connection, "INSERT INTO checked_record SELECT * FROM checked_input", cancellationToken);
            }

            if (!whole)
            {
                // Each partner set's own records, as this phase reads them (InOwnScope).
                var own = phaseRules.Select(PartnerKey).Distinct().Select(key => partnerSets[key]).Where(set => !wholeCopy.Contains(set)).ToList();
                if (own.Count > 0)
                {
                    await Execute(connection, string.Join("\n", own.Select(set => $"""
                        DROP TABLE IF EXISTS pg_temp.checked_set_{set};
                        CREATE TEMP TABLE checked_set_{set} ON COMMIT DROP AS {OwnRecords("pg_temp.checked_record", set)};
                        """)), cancellationToken);
                }
            }

            first = false;
            foreach (var each in connections)
            {
                // The rule queries join by hashing only. Nested loops are off: over a whole round the rules join and group
                // whole rounds, and where the planner misjudges a row count it picks nested loops (X02 once took 20 s instead
                // of 0.4 s on 200,000 records); in a re-check they read the scope's scratch tables, a few thousand rows whose
                // filters the planner cannot judge (the facts, substr): taken for one row, T01 compared every previous-round
                // record of the scope with every current one (6 s for one return). Merge joins are off: judged right, a
                // round joined with the previous one looks cheaper sorted than hashed, but the sorts of text keys take
                // longer than the planner thinks (T03 on 1,000,000 records: 3.7 s merged, 2.2 s hashed).
                await Execute(each, JoinSettings, cancellationToken);
            }

            // (Sending a re-check's stage as one batch of queries instead measured no faster: 47 s against 35–42 s for 112 returns.)
            await Task.WhenAll(connections.Select(async each =>
            {
                while (pending.TryDequeue(out var query))
                {
                    var queryWatch = Stopwatch.StartNew();
                    var rows = query is [var single] && single.Row is null
                        ? new Dictionary<string, List<Failing>> { [single.Id] = await QueryRuleAsync(each, single, round, partnerSets, wholeCopy, cancellationToken) }
                        : await QueryRowRulesAsync(each, query, round, partnerSets, wholeCopy, cancellationToken);
                    lock (failing)
                    {
                        foreach (var (ruleId, found) in rows)
                        {
                            failing[ruleId] = found;
                        }

                        // The row rules read the round together: their time is the one query's, under all their ids ("F01+F02+…").
                        ruleMs[string.Join('+', query.Select(r => r.Id))] = queryWatch.ElapsedMilliseconds;
                    }
                }
            }));
            var queriesMs = watch.ElapsedMilliseconds;
            foreach (var stage in phase)
            {
                var results = stage.SelectMany(rule => failing[rule.Id].Select(row => (row, rule.Id))).ToList();
                foreach (var (ruleId, count) in await StoreStageAsync(connection, stage.ToList(), results, partnerSets, round, runId, whole, cancellationToken))
                {
                    counts[ruleId] = count;
                }
            }

            if (phase[^1].Any(r => r.Invalidates))
            {
                await ShareFailedFieldsAsync(connection, readers, runId, cancellationToken);

                // The records with a value set aside, with those values hidden, for the later stages (checked_record.sql),
                // on every connection at once. In a re-check the scope's copy is refreshed with them.
                await Task.WhenAll(connections.Select(each => Execute(each, whole
                    ? "DELETE FROM hidden_record; INSERT INTO hidden_record SELECT * FROM hidden_source; ANALYZE hidden_record"
                    : "DELETE FROM hidden_record; INSERT INTO hidden_record SELECT * FROM hidden_source; " +
                      // Values set aside only grow within a run: a record not hidden now was not before and is in the
                      // copy as it is; the hidden ones are replaced by their fresh hidden copy.
                      "DELETE FROM checked_record WHERE record_id IN (SELECT h.record_id FROM hidden_record h); " +
                      "INSERT INTO checked_record SELECT * FROM hidden_record", cancellationToken)));
            }

            var time = new PhaseTime(phase[0].Key, phase[^1].Key, watch.ElapsedMilliseconds, queriesMs);
            phaseMs.Add(time);
            _logger.LogInformation("Stages {Stages} of round {RoundId}: {RuleCount} rules in {ElapsedMs} ms, of which their queries {QueriesMs} ms",
                time.Stages, round.RoundId, phase.Sum(stage => stage.Count()), time.Ms, time.QueriesMs);
        }

        await Execute(connection, """
            DELETE FROM quality.check_failed_field WHERE run_id = @run;
            UPDATE quality.check_run SET finished_at = clock_timestamp(), counts = @counts, stage_ms = @ms, rule_ms = @rule_ms WHERE run_id = @run;
            INSERT INTO audit.event (actor, action, round_id, object, details) VALUES (@actor, 'check', @round, @object, @counts);
            """, cancellationToken, ("counts", new Jsonb(JsonSerializer.Serialize(counts))),
            ("ms", new Jsonb(JsonSerializer.Serialize(phaseMs.ToDictionary(p => p.Stages, p => p.Ms)))),
            ("rule_ms", new Jsonb(JsonSerializer.Serialize(ruleMs))), ("run", runId), ("actor", actor), ("round", round.RoundId),
            ("object", scope.ToString()));
        return new CheckRunResult(runId, round, counts, phaseMs, ruleMs);
    }

    /// <summary>
    /// The stages in order, grouped into phases: a stage whose rules set values aside (<see cref="Rule.Invalidates"/>) ends
    /// its phase, since the stages after it read the round without those values; the stages of one phase read the same
    /// input, so their rules run side by side (stages 3 to 6 of the catalogue: one phase, both cores busy to its end).
    /// </summary>
    private static List<List<IGrouping<RuleStage, Rule>>> Phases(IReadOnlyList<Rule> rules)
    {
        var phases = new List<List<IGrouping<RuleStage, Rule>>> { new() };
        foreach (var stage in rules.GroupBy(r => r.Stage).OrderBy(g => g.Key))
        {
            phases[^1].Add(stage);
            if (stage.Any(r => r.Invalidates))
            {
                phases.Add([]);
            }
        }

        return phases.Where(phase => phase.Count > 0).ToList();
    }

    /// <summary>
    /// Gives the other connections the run's values set aside so far (written, uncommitted, by the run's own
    /// connection): read back and copied into each one's transaction, so that every connection hides the same values.
    /// </summary>
    private static async Task ShareFailedFieldsAsync(NpgsqlConnection connection, IReadOnlyList<NpgsqlConnection> readers, long runId,
        CancellationToken cancellationToken)
    {
        if (readers.Count == 0)
        {
            return;
        }

        var failed = new List<(long RecordId, string Field)>();
        await using (var read = new NpgsqlCommand("SELECT record_id, field FROM quality.check_failed_field WHERE run_id = @run", connection))
        {
            read.Parameters.AddWithValue("run", runId);
            await using var rows = await read.ExecuteReaderAsync(cancellationToken);
            while (await rows.ReadAsync(cancellationToken))
            {
                failed.Add((rows.GetInt64(0), rows.GetString(1)));
            }
        }

        foreach (var reader in readers)
        {
            await Execute(reader, "DELETE FROM quality.check_failed_field WHERE run_id = @run", cancellationToken, ("run", runId));
            await using var import = await reader.BeginBinaryImportAsync(
                "COPY quality.check_failed_field (run_id, record_id, field) FROM STDIN (FORMAT BINARY)", cancellationToken);
            foreach (var (recordId, field) in failed)
            {
                await import.StartRowAsync(cancellationToken);
                await import.WriteAsync(runId, NpgsqlDbType.Bigint, cancellationToken);
                await import.WriteAsync(recordId, NpgsqlDbType.Bigint, cancellationToken);
                await import.WriteAsync(field, NpgsqlDbType.Text, cancellationToken);
            }

            await import.CompleteAsync(cancellationToken);
        }
    }

    /// <summary>
    /// The plan with its run time and buffers (<c>EXPLAIN (ANALYZE, BUFFERS)</c>) over a whole round of each query a run
    /// sends, each rule alone (a row rule too, to see what it costs by itself), then each phase's row rules together as a
    /// run sends them (named "F01+F02+…"). With the settings and views a run gives its rule queries, for finding where a
    /// run's time goes (<c>bench … checks --explain</c>). Nothing is stored and no value is set aside: every query reads
    /// the round as stage 1 does, so a later stage's plan may differ a little from the one in a run.
    /// </summary>
    public async Task<IReadOnlyList<(string Name, string Plan)>> ExplainAsync(string roundCode, IReadOnlyList<Rule>? rules = null,
        CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var round = await RoundStore.FindAsync(connection, roundCode, cancellationToken)
            ?? throw new UserErrorException(new UserMessage("Staging.RoundNotFound", roundCode));
        await Execute(connection, $"""
            {WorkMemory};
            {JoinSettings};
            SET LOCAL max_parallel_workers_per_gather = 0;
            SELECT set_config('sdq.check_run', '-1', true);
            CREATE TEMP VIEW checked_source AS {WholeRoundSource};
            """, cancellationToken);
        await Execute(connection, SqlScripts.Load("checks/checked_record.sql") + CheckedRecordView, cancellationToken);
        rules ??= RuleCatalog.All;
        var queries = rules.Select(rule => (Name: rule.Id, Sql: RuleQuery(rule)))
            .Concat(Phases(rules).Select(phase => phase.SelectMany(stage => stage).Where(r => r.Row is not null).ToList())
                .Where(rowRules => rowRules.Count > 0)
                .Select(rowRules => (Name: string.Join('+', rowRules.Select(r => r.Id)), Sql: RowRules.Compose(rowRules))));
        var plans = new List<(string, string)>();
        foreach (var (name, sql) in queries)
        {
            await using var explain = new NpgsqlCommand("EXPLAIN (ANALYZE, BUFFERS) " + sql, connection) { CommandTimeout = 0 };
            AddRuleParameters(explain.Parameters, round);
            var plan = new System.Text.StringBuilder();
            await using (var reader = await explain.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    plan.AppendLine(reader.GetString(0));
                }
            }

            plans.Add((name, plan.ToString()));
        }

        return plans;
    }

    // The duplicate and cross-round rules group whole rounds by text keys (a million groups and more): with the default
    // memory their hash aggregates spill to disk and take several times as long.
    private const string WorkMemory = "SET LOCAL work_mem = '1GB'";

    // The rule queries join by hashing only (why: where RunAsync sets it for each phase).
    private const string JoinSettings = "SET LOCAL enable_nestloop = off; SET LOCAL enable_hashjoin = on; SET LOCAL enable_mergejoin = off";

    /// <summary>A rule's query as the runner sends it: a plain SELECT of the rule's failing records.</summary>
    private static string RuleQuery(Rule rule) => $"SELECT * FROM (\n{rule.Sql}\n) q";

    /// <summary>
    /// In a re-check, a query of rules that share one set of partner fields reads checked_record and checked_source as the
    /// records of that set's own scope (rule_scope): the re-checked records and those of both rounds sharing those fields
    /// with them (checked_set_N and source_set_N). The scope's copy holds the union of every set's scope, whole rolls for
    /// the school rules; a rule that groups by ID number needs a few records of it, a row rule only the re-checked ones.
    /// Every group a rule forms with a re-checked record lies within its own scope, and only its own scope's findings are
    /// kept, so it judges alike over either. A set that covers most of the copy reads the copy itself; over a whole round
    /// (no partner sets) the query is unchanged.
    /// </summary>
    private static string InOwnScope(string sql, IReadOnlyList<Rule> rules, IReadOnlyDictionary<string, int> partnerSets, IReadOnlySet<int> wholeCopy)
    {
        if (partnerSets.Count == 0)
        {
            return sql;
        }

        var set = partnerSets[rules.Select(PartnerKey).Distinct().Single()];
        return wholeCopy.Contains(set)
            ? sql
            : $"""
                WITH checked_record AS (SELECT * FROM pg_temp.checked_set_{set}),
                     checked_source AS (SELECT * FROM pg_temp.source_set_{set})
                SELECT * FROM (
                {sql}
                ) scoped
                """;
    }

    private const string WholeRoundSource = "SELECT * FROM registry.current_record";

    // What the rules read as checked_record (checked_record.sql): over a whole round the view of it; in a re-check a
    // copy of the scope's few records, refreshed after each stage that sets values aside (no statistics: with nested
    // loops off, estimates of a few thousand rows matter little, and ANALYZE of it and of the scope cost 20 % of a re-check).
    private const string CheckedRecordView = "\nCREATE TEMP VIEW checked_record AS SELECT * FROM checked_input;";

    private const string CheckedRecordTable =
        "\nCREATE TEMP TABLE checked_record ON COMMIT DROP AS SELECT * FROM checked_input WITH NO DATA;\nCREATE INDEX ON checked_record (record_id);";

    private const string ScopeSource = "SELECT * FROM scope_record";

    private static string PartnerKey(Rule rule) => string.Join(",", rule.PartnerFields);

    /// <summary>
    /// The records of partner set <paramref name="set"/> from <paramref name="table"/> (the scope's copy, or checked_record),
    /// each looked up by id (the table's index): a few thousand of the tens of thousands a batch's copy holds. (Hashed,
    /// each set read the whole copy; looked up by id, a school rule's whole rolls took 2 s: those read the copy itself.)
    /// </summary>
    private static string OwnRecords(string table, int set) => $"""
        SELECT c.* FROM rule_scope s
        CROSS  JOIN LATERAL (SELECT c.* FROM {table} c WHERE c.record_id = s.record_id OFFSET 0) c
        WHERE  s.partner_set = {set}
        """;

    /// <summary>
    /// Each partner set's own records of both rounds, as its rules read checked_source (InOwnScope). A set whose scope is
    /// most of the copy (a school rule's whole rolls) reads the copy itself: copying it again would cost more than the few
    /// records it would leave out. Returns those sets.
    /// </summary>
    private static async Task<HashSet<int>> OwnSourcesAsync(NpgsqlConnection connection, IEnumerable<int> sets, CancellationToken cancellationToken)
    {
        var sizes = new Dictionary<int, long>();
        long copied;
        await using (var command = new NpgsqlCommand(
            "SELECT partner_set, count(*) FROM rule_scope GROUP BY partner_set; SELECT count(*) FROM scope_record", connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                sizes[reader.GetInt32(0)] = reader.GetInt64(1);
            }

            await reader.NextResultAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            copied = reader.GetInt64(0);
        }

        var wholeCopy = sets.Where(set => sizes.GetValueOrDefault(set) * 2 > copied).ToHashSet();
        var own = sets.Where(set => !wholeCopy.Contains(set)).ToList();
        if (own.Count > 0)
        {
            await Execute(connection, string.Join("\n", own.Select(set => $"""
                DROP TABLE IF EXISTS pg_temp.source_set_{set};
                CREATE TEMP TABLE source_set_{set} ON COMMIT DROP AS {OwnRecords("scope_record", set)};
                """)), cancellationToken);
        }

        return wholeCopy;
    }

    /// <summary>
    /// Sets the scopes of a re-check, once for all its rules: for each set of partner fields the rules name, the
    /// re-checked records and the records of the round and of the previous round sharing those fields with a re-checked
    /// record, in any of its versions (a record that left a duplicate group leaves partners whose finding must go); the
    /// partners are found by the indexes of migration 0006. The current versions of all those records are copied once
    /// into scope_record, which every rule then reads as checked_source: each rule judges its own scope correctly over
    /// this superset, because every group it forms lies within the records sharing its partner fields, and only its own
    /// scope's findings are kept. A school-level finding (no record) is in scope when its school is that of some version
    /// of a re-checked record: the schools whose counts the changes can move. Returns the number of each partner set in
    /// rule_scope.
    /// </summary>
    private static async Task<Dictionary<string, int>> ScopeAsync(NpgsqlConnection connection, IReadOnlyList<Rule> rules, Round round,
        IReadOnlyCollection<long> recordIds, CancellationToken cancellationToken)
    {
        await using (var import = await connection.BeginBinaryImportAsync("COPY recheck_record (record_id) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            foreach (var id in recordIds)
            {
                await import.StartRowAsync(cancellationToken);
                await import.WriteAsync(id, NpgsqlDbType.Bigint, cancellationToken);
            }

            await import.CompleteAsync(cancellationToken);
        }

        var sets = rules.Select(PartnerKey).Distinct().Select((key, i) => (key, i)).ToDictionary(x => x.key, x => x.i);
        await using var batch = new NpgsqlBatch(connection) { Timeout = 0 };
        void Add(string sql)
        {
            var command = new NpgsqlBatchCommand(sql);
            command.Parameters.AddWithValue("round", round.RoundId);
            command.Parameters.AddWithValue("previous", round.PreviousRoundId ?? -1);
            batch.BatchCommands.Add(command);
        }

        // Statistics of the few re-checked records, or the planner takes them for thousands and reads whole rounds to
        // find their partners (8 s a rule on three million records instead of milliseconds by index).
        Add("ANALYZE recheck_record");
        Add("""
            INSERT INTO scope_school (school_code)
            SELECT DISTINCT r.school_code FROM registry.record r
            WHERE  r.round_id = @round AND r.record_id IN (SELECT s.record_id FROM recheck_record s) AND r.school_code IS NOT NULL
            """);
        foreach (var (key, number) in sets)
        {
            // The partner fields are column names checked against the record layout when the catalogue was read.
            // Each partner value of the re-checked records is looked up by itself (a lateral subquery the planner may not
            // flatten): asked as one semi-join, it misjudged the few values for thousands and read both rounds whole
            // (8 s a partner set on three million records, against milliseconds by index).
            var fields = key.Length == 0 ? [] : key.Split(',');
            Add(key.Length == 0
                ? $"INSERT INTO rule_scope (partner_set, record_id) SELECT {number}, record_id FROM recheck_record"
                : $"""
                    INSERT INTO rule_scope (partner_set, record_id)
                    SELECT {number}, p.record_id
                    FROM   (SELECT DISTINCT {string.Join(", ", fields.Select(f => "v." + f))} FROM registry.record v
                            WHERE v.round_id = @round AND v.record_id IN (SELECT record_id FROM recheck_record)) k
                    CROSS  JOIN LATERAL (SELECT r.record_id FROM registry.current_record r
                                         WHERE r.round_id IN (@round, @previous) AND {string.Join(" AND ", fields.Select(f => $"r.{f} = k.{f}"))}
                                         OFFSET 0) p
                    UNION
                    SELECT {number}, record_id FROM recheck_record
                    """);
        }

        Add("ANALYZE rule_scope");
        Add("""
            CREATE TEMP TABLE scope_record ON COMMIT DROP AS
            SELECT r.*
            FROM   (SELECT DISTINCT s.record_id FROM rule_scope s) s
            CROSS  JOIN LATERAL (SELECT r.* FROM registry.current_record r
                                 WHERE r.round_id IN (@round, @previous) AND r.record_id = s.record_id OFFSET 0) r
            """);
        // The records with values set aside are looked up in the copy by id (checked_record.sql).
        Add("CREATE INDEX ON scope_record (record_id)");
        // T02 and T03 look up a student's previous-round row by school and student number for each pair: without an
        // index each lookup read the whole copy (0.8-0.9 s a re-check on a batch scope of 40,000 records, 0.07 s with it).
        Add("CREATE INDEX ON scope_record (school_code, student_no)");
        Add("CREATE TEMP VIEW checked_source AS " + ScopeSource);
        await batch.ExecuteNonQueryAsync(cancellationToken);
        return sets;
    }

    /// <summary>
    /// Runs one rule's query and returns its failing records. The rule's own query (the program's embedded SQL, never
    /// input; values are parameters) runs as a plain SELECT, so that PostgreSQL may scan the round with parallel workers
    /// (an INSERT … SELECT never does). A query that fails names its rule.
    /// </summary>
    private async Task<List<Failing>> QueryRuleAsync(NpgsqlConnection connection, Rule rule, Round round, IReadOnlyDictionary<string, int> partnerSets,
        IReadOnlySet<int> wholeCopy, CancellationToken cancellationToken)
    {
        var failing = new List<Failing>();
        try
        {
            await using var query = new NpgsqlCommand(InOwnScope(RuleQuery(rule), [rule], partnerSets, wholeCopy), connection) { CommandTimeout = 0 };
            AddRuleParameters(query.Parameters, round);
            await using var reader = await query.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                failing.Add(new Failing(reader.IsDBNull(0) ? null : reader.GetInt64(0), Text(reader, 1), Text(reader, 2), Text(reader, 3), Text(reader, 4),
                    Text(reader, 5)));
            }
        }
        catch (PostgresException e)
        {
            throw new InvalidOperationException($"Rule {rule.Id} failed: {e.MessageText} ({e.SqlState}) at position {e.Position} of its query.", e);
        }

        return failing;
    }

    /// <summary>
    /// Runs the row rules of a phase as one query (<see cref="RowRules.Compose"/>) and returns each rule's failing
    /// records, as each rule's own query would. When the query fails, each rule runs alone to name the one at fault
    /// (the query runs behind a savepoint, so the transaction goes on to that).
    /// </summary>
    private async Task<Dictionary<string, List<Failing>>> QueryRowRulesAsync(NpgsqlConnection connection, IReadOnlyList<Rule> rules, Round round,
        IReadOnlyDictionary<string, int> partnerSets, IReadOnlySet<int> wholeCopy, CancellationToken cancellationToken)
    {
        var failing = rules.ToDictionary(r => r.Id, _ => new List<Failing>());
        await Execute(connection, "SAVEPOINT row_rules", cancellationToken);
        try
        {
            await using var query = new NpgsqlCommand(InOwnScope(RowRules.Compose(rules), rules, partnerSets, wholeCopy), connection) { CommandTimeout = 0 };
            AddRuleParameters(query.Parameters, round);
            await using var reader = await query.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var recordId = reader.GetInt64(0);
                for (var i = 0; i < rules.Count; i++)
                {
                    if (!reader.IsDBNull(i + 1))
                    {
                        var found = reader.GetFieldValue<string?[]>(i + 1);
                        failing[rules[i].Id].Add(new Failing(recordId, found[0], found[1], found[2], found[3], found[4]));
                    }
                }
            }
        }
        catch (PostgresException e)
        {
            await Execute(connection, "ROLLBACK TO SAVEPOINT row_rules", cancellationToken);
            foreach (var rule in rules)
            {
                await QueryRuleAsync(connection, rule, round, partnerSets, wholeCopy, cancellationToken);
            }

            throw new InvalidOperationException(
                $"The row rules {string.Join(", ", rules.Select(r => r.Id))} failed together (each alone did not): {e.MessageText} ({e.SqlState}).", e);
        }

        await Execute(connection, "RELEASE SAVEPOINT row_rules", cancellationToken);
        return failing;
    }

    /// <summary>One failing record (or school) as a rule returns it.</summary>
    private sealed record Failing(long? RecordId, string? SchoolCode, string? Field, string? Value, string? Detail, string? Severity);

    /// <summary>
    /// Stores a stage's findings with sql/checks/store_findings.sql: the rules' results (into the scratch table
    /// rule_result) and the stage's rules (stage_rule) go in, the counts per rule come out.
    /// </summary>
    private static async Task<Dictionary<string, long>> StoreStageAsync(NpgsqlConnection connection, IReadOnlyList<Rule> rules,
        List<(Failing Row, string RuleId)> results, Dictionary<string, int> partnerSets, Round round, long runId, bool whole,
        CancellationToken cancellationToken)
    {
        // DELETE, not TRUNCATE: the tables hold a few rows, and TRUNCATE makes a new file for a table each time.
        await Execute(connection, "DELETE FROM rule_result; DELETE FROM stage_rule", cancellationToken);
        await using (var import = await connection.BeginBinaryImportAsync(
                         "COPY rule_result (record_id, school_code, field, value, detail, severity, rule_id) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            foreach (var (row, ruleId) in results)
            {
                await import.StartRowAsync(cancellationToken);
                await import.WriteAsync(row.RecordId, NpgsqlDbType.Bigint, cancellationToken);
                await import.WriteAsync(row.SchoolCode, NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(row.Field, NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(row.Value, NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(row.Detail, NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(row.Severity, NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(ruleId, NpgsqlDbType.Text, cancellationToken);
            }

            await import.CompleteAsync(cancellationToken);
        }

        // A re-check's inputs are a few rows and the findings table is the round's: joins by index only, or the planner,
        // misjudging the few for many, reads the round's findings whole per statement (100 ms each on three million
        // records). A full run joins thousands of findings with the round: hash joins, on fresh statistics.
        await Execute(connection, $"""
            INSERT INTO stage_rule (rule_id, rule_version, severity, partner_set, school_level, invalidates)
            SELECT * FROM unnest(@ids::text[], @versions::integer[], @severities::text[], @sets::integer[], @school_level::boolean[], @invalidates::boolean[]);
            {(whole
                ? "ANALYZE rule_result; SET LOCAL enable_nestloop = on; SET LOCAL enable_hashjoin = on; SET LOCAL enable_mergejoin = on"
                : "SET LOCAL enable_nestloop = on; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")};
            """, cancellationToken,
            ("ids", rules.Select(r => r.Id).ToArray()), ("versions", rules.Select(r => r.Version).ToArray()),
            ("severities", rules.Select(r => r.Severity).ToArray()),
            ("sets", rules.Select(r => partnerSets.GetValueOrDefault(PartnerKey(r))).ToArray()),
            ("school_level", rules.Select(r => r.Stage == RuleStage.School).ToArray()), ("invalidates", rules.Select(r => r.Invalidates).ToArray()));

        var counts = rules.ToDictionary(r => r.Id, _ => 0L);
        await using (var store = new NpgsqlCommand(SqlScripts.Load("checks/store_findings.sql"), connection) { CommandTimeout = 0 })
        {
            store.Parameters.AddWithValue("round_id", round.RoundId);
            store.Parameters.Add(new NpgsqlParameter("previous_round_id", NpgsqlDbType.Integer) { Value = (object?)round.PreviousRoundId ?? DBNull.Value });
            store.Parameters.AddWithValue("run_id", runId);
            store.Parameters.AddWithValue("whole", whole);
            await using var reader = await store.ExecuteReaderAsync(cancellationToken);
            do
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    counts[reader.GetString(0)] = reader.GetInt64(1);
                }
            }
            while (await reader.NextResultAsync(cancellationToken));
        }

        return counts;
    }

    private static string? Text(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    /// <summary>The parameters every rule may use (sql/rules/README.md).</summary>
    private void AddRuleParameters(NpgsqlParameterCollection parameters, Round round)
    {
        parameters.AddWithValue("round_id", round.RoundId);
        parameters.Add(new NpgsqlParameter("previous_round_id", NpgsqlDbType.Integer) { Value = (object?)round.PreviousRoundId ?? DBNull.Value });
        parameters.AddWithValue("round_date", round.RoundDate);
        parameters.AddWithValue("school_year_start", new DateOnly(round.SchoolYear, 9, 1));
        parameters.AddWithValue("province", _options.Province);
    }

    private static async Task Execute(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(connection, sql, parameters);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(connection, sql, parameters);
        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, (string Name, object Value)[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        foreach (var (name, value) in parameters)
        {
            command.Parameters.Add(value is Jsonb json
                ? new NpgsqlParameter(name, NpgsqlDbType.Jsonb) { Value = json.Text }
                : new NpgsqlParameter(name, value));
        }

        return command;
    }

    private sealed record Jsonb(string Text);
}
