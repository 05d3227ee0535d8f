using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;
using StudentDataQuality.Data.Staging;

namespace StudentDataQuality.Data.Quality;

/// <summary>What one check run found.</summary>
public sealed record CheckRunResult(long RunId, Round Round, IReadOnlyDictionary<string, long> FindingsByRule, IReadOnlyDictionary<int, long> StageMs);

/// <summary>
/// Runs the rule catalogue over a round, stage by stage, in the database: each rule is one set-based query of its
/// failing records (over a whole round, a stage's rules run as one query). After stages 1 and 2 the values that failed
/// are set aside (failed_field), and later stages read the round through checked_record, which hides them: one bad
/// value, one finding. A re-check runs the same rules on some records and their partners. Either way each rule's
/// findings replace its earlier ones in the scope checked (superseded when found again, resolved when gone), so a
/// re-check equals a full run; a finding seen before (same rule, school, student and field, this round or the
/// previous) keeps its first round. The run, the rule versions and the counts per rule are recorded.
/// </summary>
public sealed class CheckRunner
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly ILogger _logger;

    public CheckRunner(NpgsqlDataSource dataSource, ILogger<CheckRunner>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        _dataSource = dataSource;
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

    /// <summary>Runs every rule over the whole round (scope 'full').</summary>
    public async Task<CheckRunResult> RunAsync(string roundCode, string actor, IReadOnlyList<Rule>? rules = null, CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var result = await RunAsync(connection, await FindRoundAsync(connection, roundCode, cancellationToken), null, actor, rules, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    /// <summary>
    /// Re-checks some records of a round (scope 'records'), typically after corrections gave them new versions: the same
    /// rules on just those records and their cross-record partners (each rule's <see cref="Rule.PartnerFields"/>). The
    /// findings in that scope are replaced as a full run would replace them: the result equals a full re-run's.
    /// </summary>
    public async Task<CheckRunResult> RecheckAsync(string roundCode, IReadOnlyCollection<long> recordIds, string actor, IReadOnlyList<Rule>? rules = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(recordIds);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var result = await RunAsync(connection, await FindRoundAsync(connection, roundCode, cancellationToken), recordIds, actor, rules, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    /// <summary>
    /// The check itself, inside the caller's transaction (an ingest re-checks what it changed before it commits).
    /// <paramref name="recordIds"/> NULL checks the whole round.
    /// </summary>
    public async Task<CheckRunResult> RunAsync(NpgsqlConnection connection, Round round, IReadOnlyCollection<long>? recordIds, string actor,
        IReadOnlyList<Rule>? rules, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(round);
        rules ??= RuleCatalog.All;
        var whole = recordIds is null;
        await Execute(connection, "SELECT pg_advisory_xact_lock(hashtext('sdq.check:' || @code))", cancellationToken, ("code", round.Code));
        // The duplicate and cross-round rules group whole rounds by text keys (a million groups and more): with the
        // default memory their hash aggregates spill to disk and take several times as long.
        await Execute(connection, "SET LOCAL work_mem = '1GB'", cancellationToken);
        await SyncCatalogAsync(connection, rules, cancellationToken);
        await Execute(connection, "SELECT registry.ensure_round_partitions(@round)", cancellationToken, ("round", round.RoundId));
        var previous = round.PreviousRoundId;
        if (whole)
        {
            // Fresh statistics for what the rules filter, group and join by: without them the planner takes a round for
            // a few rows and picks nested loops (minutes instead of seconds on the cross-record rules).
            foreach (var partition in previous is { } before ? new[] { round.RoundId, before } : [round.RoundId])
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
        // The run's scratch objects live in the session; a caller may run more than one check in a transaction.
        await Execute(connection, """
            DROP VIEW IF EXISTS pg_temp.checked_record, pg_temp.checked_source;
            DROP TABLE IF EXISTS pg_temp.failed_field, pg_temp.rule_result, pg_temp.recheck_record, pg_temp.rule_scope, pg_temp.scope_school,
                                 pg_temp.scope_record, pg_temp.stage_rule;
            CREATE TEMP TABLE failed_field (record_id bigint NOT NULL, field text NOT NULL) ON COMMIT DROP;
            CREATE TEMP TABLE rule_result (record_id bigint, school_code text, field text, value text, detail text, severity text, rule_id text) ON COMMIT DROP;
            CREATE TEMP TABLE stage_rule (rule_id text PRIMARY KEY, rule_version integer NOT NULL, severity text NOT NULL, partner_set integer NOT NULL,
                                          school_level boolean NOT NULL) ON COMMIT DROP;
            CREATE TEMP TABLE recheck_record (record_id bigint PRIMARY KEY) ON COMMIT DROP;
            CREATE TEMP TABLE rule_scope (partner_set integer NOT NULL, record_id bigint NOT NULL, PRIMARY KEY (partner_set, record_id)) ON COMMIT DROP;
            CREATE TEMP TABLE scope_school (school_code text PRIMARY KEY) ON COMMIT DROP;
            """, cancellationToken);
        // The rules read checked_record, over checked_source: the round as it is, or in a re-check, for each rule, the
        // records of its scope (see ScopeAsync).
        await Execute(connection, "CREATE TEMP VIEW checked_source AS " + WholeRoundSource, cancellationToken);
        await Execute(connection, SqlScripts.Load("checks/checked_record.sql"), cancellationToken);
        if (!whole)
        {
            await using var import = await connection.BeginBinaryImportAsync("COPY recheck_record (record_id) FROM STDIN (FORMAT BINARY)", cancellationToken);
            foreach (var id in recordIds!.Distinct())
            {
                await import.StartRowAsync(cancellationToken);
                await import.WriteAsync(id, NpgsqlDbType.Bigint, cancellationToken);
            }

            await import.CompleteAsync(cancellationToken);
        }

        if (!whole)
        {
            // Statistics of the few re-checked records, or the planner takes them for thousands and reads whole rounds
            // to find their partners (8 s a rule on three million records instead of milliseconds by index).
            await Execute(connection, "ANALYZE recheck_record", cancellationToken);
            // A school-level finding (no record) is in a re-check's scope when its school is that of some version of a
            // re-checked record: the schools whose counts the changes can move.
            await Execute(connection, """
                INSERT INTO scope_school (school_code)
                SELECT DISTINCT r.school_code FROM registry.record r
                WHERE  r.round_id = @round AND r.record_id IN (SELECT s.record_id FROM recheck_record s) AND r.school_code IS NOT NULL
                """, cancellationToken, ("round", round.RoundId));
        }

        var partnerSets = whole ? null : await ScopeAsync(connection, rules, round, cancellationToken);
        var counts = new Dictionary<string, long>();
        var stageMs = new Dictionary<int, long>();
        var schoolYearStart = new DateOnly(round.SchoolYear, 9, 1);
        var columns = await CheckedColumnsAsync(connection, cancellationToken);
        foreach (var stage in rules.GroupBy(r => r.Stage).OrderBy(g => g.Key))
        {
            var watch = Stopwatch.StartNew();
            // Over a whole round, a stage's rules run as one query that reads the stage's input once, unless they read
            // nearly all of the record: materialising whole records cost more than the scans it saved (measured on a
            // million records: stage 1, 56 of 66 columns, 19 s as one query against 10–14 s rule by rule; stage 2, 50
            // columns, 19 s against 27–34 s). A re-check reads each rule's own scope.
            // A re-check reads the few records of its scope, whatever their columns: its stages always run as one query.
            var used = UsedColumns(columns, stage.ToList());
            var fused = stage.Count() > 1 && (whole ? used.Count * 5 <= columns.Count * 4 : !stage.Any(r => r.NeedsWholeRound))
                ? await QueryStageAsync(connection, stage.ToList(), used, round, previous, schoolYearStart, runId, cancellationToken)
                : null;
            if (!whole && fused is not null)
            {
                // A re-check stores the whole stage's findings at once: a few statements instead of a few per rule.
                foreach (var (ruleId, count) in await StoreStageFindingsAsync(connection, stage.ToList(), fused, partnerSets!, round, previous, runId,
                             cancellationToken))
                {
                    counts[ruleId] = count;
                }
            }
            else
            {
                foreach (var rule in stage)
                {
                    var ruleWatch = Stopwatch.StartNew();
                    if (!whole && rule.NeedsWholeRound)
                    {
                        await Execute(connection, "CREATE OR REPLACE TEMP VIEW checked_source AS " + WholeRoundSource, cancellationToken);
                    }

                    var failing = fused is not null
                        ? fused[rule.Id]
                        : await QueryRuleAsync(connection, rule, round, previous, schoolYearStart, runId, nestedLoops: !whole, cancellationToken);
                    if (!whole && rule.NeedsWholeRound)
                    {
                        await Execute(connection, "CREATE OR REPLACE TEMP VIEW checked_source AS " + ScopeSource, cancellationToken);
                    }

                    var scope = whole || rule.NeedsWholeRound ? null : $"(SELECT s.record_id FROM rule_scope s WHERE s.partner_set = {partnerSets![PartnerKey(rule)]})";
                    counts[rule.Id] = await StoreFindingsAsync(connection, rule, failing, round, previous, schoolYearStart, runId, scope,
                        cancellationToken);
                    _logger.LogDebug("Rule {RuleId}: {FindingCount} findings in {ElapsedMs} ms", rule.Id, counts[rule.Id], ruleWatch.ElapsedMilliseconds);
                }
            }

            // The values that failed an invalidating rule of this stage are hidden from the later stages: the round's
            // current findings of those rules (this run's, and in a re-check those of the records outside its scope).
            var invalidating = stage.Where(r => r.Invalidates).Select(r => r.Id).ToArray();
            if (invalidating.Length > 0)
            {
                // A re-check looks up its scope's records one by one (by the record index of migration 0006): the planner,
                // asked for the round's findings filtered by the scope, read them all (80 ms a stage on 200,000 records).
                await Execute(connection, whole
                    ? """
                      INSERT INTO failed_field (record_id, field)
                      SELECT record_id, field FROM quality.finding
                      WHERE  round_id = @round AND status IN ('open', 'confirmed') AND rule_id = ANY(@rules) AND record_id IS NOT NULL
                      """
                    : """
                      INSERT INTO failed_field (record_id, field)
                      SELECT f.record_id, f.field
                      FROM   (SELECT DISTINCT record_id FROM scope_record) r
                      CROSS  JOIN LATERAL (SELECT f.record_id, f.field FROM quality.finding f
                                           WHERE  f.round_id = @round AND f.record_id = r.record_id AND f.rule_id = ANY(@rules)
                                             AND  f.status IN ('open', 'confirmed') OFFSET 0) f
                      """, cancellationToken, ("round", round.RoundId), ("rules", invalidating));
                await Execute(connection, "ANALYZE failed_field", cancellationToken);
            }

            stageMs[stage.Key] = watch.ElapsedMilliseconds;
            _logger.LogInformation("Stage {Stage} of round {RoundId}: {RuleCount} rules in {ElapsedMs} ms",
                stage.Key, round.RoundId, stage.Count(), watch.ElapsedMilliseconds);
        }

        await Execute(connection, """
            UPDATE quality.check_run SET finished_at = clock_timestamp(), counts = @counts, stage_ms = @ms WHERE run_id = @run;
            INSERT INTO audit.event (actor, action, round_id, object, details) VALUES (@actor, 'check', @round, @object, @counts);
            """, cancellationToken, ("counts", new Jsonb(JsonSerializer.Serialize(counts))),
            ("ms", new Jsonb(JsonSerializer.Serialize(stageMs))), ("run", runId), ("actor", actor), ("round", round.RoundId),
            ("object", whole ? "round" : $"{recordIds!.Count} records"));
        return new CheckRunResult(runId, round, counts, stageMs);
    }

    private static async Task<Round> FindRoundAsync(NpgsqlConnection connection, string roundCode, CancellationToken cancellationToken) =>
        await RoundStore.FindAsync(connection, roundCode, cancellationToken)
        ?? throw new UserErrorException($"Round {roundCode} does not exist. Extract its registry export first (sdq extract --round {roundCode} …).");

    private const string WholeRoundSource = "SELECT * FROM registry.current_record";

    private const string ScopeSource = "SELECT * FROM scope_record";

    /// <summary>The stage of school-level rules, whose findings have a school and no record.</summary>
    private const int SchoolStage = 6;

    private static string PartnerKey(Rule rule) => string.Join(",", rule.PartnerFields);

    /// <summary>
    /// Sets the scopes of a re-check, once for all its rules: for each set of partner fields the rules name, the
    /// re-checked records and the records of the round and of the previous round sharing those fields with a re-checked
    /// record, in any of its versions (a record that left a duplicate group leaves partners whose finding must go); the
    /// partners are found by the indexes of migration 0006. The current versions of all those records are copied once
    /// into scope_record, which every rule then reads as checked_source: each rule judges its own scope correctly over
    /// this superset, because every group it forms lies within the records sharing its partner fields, and only its own
    /// scope's findings are kept. Returns the number of each partner set in rule_scope.
    /// </summary>
    private static async Task<Dictionary<string, int>> ScopeAsync(NpgsqlConnection connection, IReadOnlyList<Rule> rules, Round round,
        CancellationToken cancellationToken)
    {
        var sets = rules.Where(r => !r.NeedsWholeRound).Select(PartnerKey).Distinct().Select((key, i) => (key, i)).ToDictionary(x => x.key, x => x.i);
        await using var batch = new NpgsqlBatch(connection) { Timeout = 0 };
        foreach (var (key, number) in sets)
        {
            // The partner fields are column names checked against the record layout when the catalogue was read.
            // Each partner value of the re-checked records is looked up by itself (a lateral subquery the planner may not
            // flatten): asked as one semi-join, it misjudged the few values for thousands and read both rounds whole
            // (8 s a partner set on three million records, against milliseconds by index).
            var fields = key.Length == 0 ? [] : key.Split(',');
            var command = new NpgsqlBatchCommand(key.Length == 0
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
            command.Parameters.AddWithValue("round", round.RoundId);
            command.Parameters.AddWithValue("previous", round.PreviousRoundId ?? -1);
            batch.BatchCommands.Add(command);
        }

        batch.BatchCommands.Add(new NpgsqlBatchCommand("ANALYZE rule_scope"));
        var copy = new NpgsqlBatchCommand("""
            CREATE TEMP TABLE scope_record ON COMMIT DROP AS
            SELECT r.*
            FROM   (SELECT DISTINCT s.record_id FROM rule_scope s) s
            CROSS  JOIN LATERAL (SELECT r.* FROM registry.current_record r
                                 WHERE r.round_id IN (@round, @previous) AND r.record_id = s.record_id OFFSET 0) r
            """);
        copy.Parameters.AddWithValue("round", round.RoundId);
        copy.Parameters.AddWithValue("previous", round.PreviousRoundId ?? -1);
        batch.BatchCommands.Add(copy);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("CREATE OR REPLACE TEMP VIEW checked_source AS " + ScopeSource));
        await batch.ExecuteNonQueryAsync(cancellationToken);
        return sets;
    }

    private static async Task<List<Failing>> QueryRuleAsync(NpgsqlConnection connection, Rule rule, Round round, int? previous, DateOnly schoolYearStart,
        long runId, bool nestedLoops, CancellationToken cancellationToken)
    {
        // The rule's own query (the program's embedded SQL, never input; values are parameters) runs as a plain SELECT,
        // so that PostgreSQL may scan the round with parallel workers (an INSERT … SELECT never does). Over a whole round
        // nested loops are off: the rules join and group whole rounds, and where the planner misjudges a row count it
        // picks nested loops (X02 once took 20 s instead of 0.4 s on 200,000 records). A re-check reads a few records,
        // by key: what nested loops are for. The failing records (few) come back here and go into a scratch table.
        var failing = new List<Failing>();
        await Execute(connection, nestedLoops ? "SET LOCAL enable_nestloop = on" : "SET LOCAL enable_nestloop = off", cancellationToken);
        try
        {
            await using var query = new NpgsqlCommand($"SELECT * FROM (\n{rule.Sql}\n) q", connection) { CommandTimeout = 0 };
            AddRuleParameters(query.Parameters, rule, round, previous, schoolYearStart, runId);
            await using var reader = await query.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                failing.Add(Read(reader, 0));
            }
        }
        catch (PostgresException e)
        {
            throw new InvalidOperationException($"Rule {rule.Id} failed: {e.MessageText} ({e.SqlState}) at position {e.Position} of its query.", e);
        }

        return failing;
    }

    /// <summary>
    /// All rules of a stage as one query over the whole round: the stage's input (checked_record, with just the columns
    /// the rules name) is read once into a materialised CTE of the same name, which each rule's query then reads in
    /// place of the view. Returns each rule's failing records. Should the query fail, the rules run one by one, so that
    /// the error names its rule.
    /// </summary>
    private async Task<Dictionary<string, List<Failing>>> QueryStageAsync(NpgsqlConnection connection, IReadOnlyList<Rule> rules,
        IReadOnlyList<string> used, Round round, int? previous, DateOnly schoolYearStart, long runId, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder($"WITH checked_record AS MATERIALIZED (\n    SELECT {string.Join(", ", used)} FROM pg_temp.checked_record WHERE round_id = @round_id\n)\n");
        for (var i = 0; i < rules.Count; i++)
        {
            sql.Append(i == 0 ? "" : "UNION ALL\n").Append($"SELECT {i} AS rule_index, q.* FROM (\n{rules[i].Sql}\n) q\n");
        }

        var failing = rules.ToDictionary(r => r.Id, _ => new List<Failing>());
        var savepoint = "stage_query";
        await Execute(connection, "SET LOCAL enable_nestloop = off", cancellationToken);
        await Execute(connection, $"SAVEPOINT {savepoint}", cancellationToken);
        try
        {
            await using var query = new NpgsqlCommand(sql.ToString(), connection) { CommandTimeout = 0 };
            AddRuleParameters(query.Parameters, rules[0], round, previous, schoolYearStart, runId);
            await using var reader = await query.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                failing[rules[reader.GetInt32(0)].Id].Add(Read(reader, 1));
            }
        }
        catch (PostgresException e)
        {
            _logger.LogWarning("The rules of stage {Stage} failed as one query ({Message}); running them one by one", rules[0].Stage, e.MessageText);
            await Execute(connection, $"ROLLBACK TO SAVEPOINT {savepoint}", cancellationToken);
            foreach (var rule in rules)
            {
                failing[rule.Id] = await QueryRuleAsync(connection, rule, round, previous, schoolYearStart, runId, nestedLoops: false, cancellationToken);
            }
        }

        await Execute(connection, $"RELEASE SAVEPOINT {savepoint}", cancellationToken);
        return failing;
    }

    /// <summary>The columns of checked_record that some rule of the stage names (a superset: any word of its text).</summary>
    private static List<string> UsedColumns(IReadOnlyList<string> columns, IReadOnlyList<Rule> rules) =>
        columns.Where(c => c is "round_id" or "record_id" || rules.Any(r => Regex.IsMatch(r.Sql, $@"\b{c}\b"))).ToList();

    private static async Task<IReadOnlyList<string>> CheckedColumnsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var columns = new List<string>();
        await using var command = new NpgsqlCommand("""
            SELECT attname FROM pg_attribute WHERE attrelid = 'pg_temp.checked_record'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum
            """, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            columns.Add(reader.GetString(0));
        }

        return columns;
    }

    /// <summary>One failing record (or school) as a rule returns it.</summary>
    private sealed record Failing(long? RecordId, string? SchoolCode, string? Field, string? Value, string? Detail, string? Severity);

    private static Failing Read(NpgsqlDataReader reader, int first) =>
        new(reader.IsDBNull(first) ? null : reader.GetInt64(first), Text(reader, first + 1), Text(reader, first + 2), Text(reader, first + 3),
            Text(reader, first + 4), Text(reader, first + 5));

    /// <summary>Rules' failing records into the scratch table rule_result (the rule's id where several rules share it).</summary>
    private static async Task CopyResultsAsync(NpgsqlConnection connection, IEnumerable<(Failing Row, string? RuleId)> results,
        CancellationToken cancellationToken)
    {
        await using var import = await connection.BeginBinaryImportAsync(
            "COPY rule_result (record_id, school_code, field, value, detail, severity, rule_id) FROM STDIN (FORMAT BINARY)", cancellationToken);
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

    /// <summary>
    /// A re-check's findings of a whole stage, stored as <see cref="StoreFindingsAsync"/> stores one rule's: each rule's
    /// results kept within its own scope, written with their fingerprints, and the rules' earlier findings in their
    /// scopes closed (superseded or resolved). Returns the count per rule.
    /// </summary>
    private static async Task<Dictionary<string, long>> StoreStageFindingsAsync(NpgsqlConnection connection, IReadOnlyList<Rule> rules,
        Dictionary<string, List<Failing>> failing, Dictionary<string, int> partnerSets, Round round, int? previous, long runId,
        CancellationToken cancellationToken)
    {
        await Execute(connection, "SET LOCAL enable_nestloop = on", cancellationToken);
        await CopyResultsAsync(connection, rules.SelectMany(rule => failing[rule.Id].Select(row => (row, (string?)rule.Id))), cancellationToken);

        var counts = rules.ToDictionary(r => r.Id, _ => 0L);
        await using var batch = new NpgsqlBatch(connection) { Timeout = 0 };
        void Add(string sql)
        {
            var command = new NpgsqlBatchCommand(sql);
            command.Parameters.AddWithValue("round_id", round.RoundId);
            command.Parameters.Add(new NpgsqlParameter("previous_round_id", NpgsqlDbType.Integer) { Value = (object?)previous ?? DBNull.Value });
            command.Parameters.AddWithValue("run_id", runId);
            command.Parameters.AddWithValue("ids", rules.Select(r => r.Id).ToArray());
            command.Parameters.AddWithValue("versions", rules.Select(r => r.Version).ToArray());
            command.Parameters.AddWithValue("severities", rules.Select(r => r.Severity).ToArray());
            command.Parameters.AddWithValue("sets", rules.Select(r => partnerSets[PartnerKey(r)]).ToArray());
            command.Parameters.AddWithValue("school_level", rules.Select(r => r.Stage == SchoolStage).ToArray());
            batch.BatchCommands.Add(command);
        }

        // The inputs are a few rows; the findings table is the round's. Joins by index only, or the planner, misjudging
        // the few for many, reads the round's findings whole per statement (100 ms each on three million records).
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL enable_hashjoin = off"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL enable_mergejoin = off"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("TRUNCATE stage_rule"));
        Add("""
            INSERT INTO stage_rule (rule_id, rule_version, severity, partner_set, school_level)
            SELECT * FROM unnest(@ids::text[], @versions::integer[], @severities::text[], @sets::integer[], @school_level::boolean[])
            """);
        // Each rule's results within its own scope (a rule with partners also reports on them).
        Add("""
            DELETE FROM rule_result q USING stage_rule r
            WHERE  q.rule_id = r.rule_id
              AND  CASE WHEN q.record_id IS NULL THEN q.school_code IS NULL OR q.school_code NOT IN (SELECT c.school_code FROM scope_school c)
                        ELSE NOT EXISTS (SELECT 1 FROM rule_scope s WHERE s.partner_set = r.partner_set AND s.record_id = q.record_id) END
            """);
        Add("""
            WITH inserted AS (
                INSERT INTO quality.finding (round_id, run_id, rule_id, rule_version, severity, record_id, record_version, school_code,
                                             student_no, field, value, detail, fingerprint, first_seen_round_id, status)
                SELECT @round_id, @run_id, q.rule_id, r.rule_version, coalesce(q.severity, r.severity), q.record_id, c.version,
                       coalesce(c.school_code, q.school_code), c.student_no, q.field, q.value, q.detail, fp.fingerprint,
                       coalesce((SELECT min(p.first_seen_round_id) FROM quality.finding p
                                 WHERE p.round_id IN (@round_id, @previous_round_id) AND p.fingerprint = fp.fingerprint), @round_id),
                       CASE WHEN EXISTS (SELECT 1 FROM quality.finding o
                                         WHERE  o.round_id = @round_id AND o.fingerprint = fp.fingerprint AND o.status = 'confirmed'
                                           AND  o.record_id IS NOT DISTINCT FROM q.record_id AND o.value IS NOT DISTINCT FROM q.value)
                            THEN 'confirmed' ELSE 'open' END
                FROM   rule_result q
                JOIN   stage_rule r ON r.rule_id = q.rule_id
                LEFT   JOIN registry.current_record c ON c.round_id IN (@round_id, @previous_round_id) AND c.record_id = q.record_id
                CROSS  JOIN LATERAL (SELECT concat_ws('|', q.rule_id, coalesce(c.school_code, q.school_code), c.student_no, q.field) AS fingerprint) fp
                RETURNING rule_id)
            SELECT rule_id, count(*) FROM inserted GROUP BY rule_id
            """);
        // The rules' earlier findings in their scopes are closed: superseded where this run found the same problem again,
        // resolved where it is gone. Found by record (the index of migration 0006), and for school-level rules by school.
        const string Closed = """
            SET    status = CASE WHEN EXISTS (SELECT 1 FROM quality.finding n
                                              WHERE  n.round_id = o.round_id AND n.run_id = @run_id AND n.fingerprint = o.fingerprint
                                                AND  n.record_id IS NOT DISTINCT FROM o.record_id)
                             THEN 'superseded' ELSE 'resolved' END,
                   closed_run_id = @run_id
            """;
        Add($"""
            UPDATE quality.finding o
            {Closed}
            FROM   stage_rule r JOIN rule_scope s ON s.partner_set = r.partner_set
            WHERE  o.round_id = @round_id AND o.record_id = s.record_id AND o.rule_id = r.rule_id
              AND  o.status IN ('open', 'confirmed') AND o.run_id <> @run_id
            """);
        Add($"""
            UPDATE quality.finding o
            {Closed}
            FROM   stage_rule r
            WHERE  r.school_level AND o.round_id = @round_id AND o.record_id IS NULL AND o.rule_id = r.rule_id
              AND  o.school_code IN (SELECT c.school_code FROM scope_school c)
              AND  o.status IN ('open', 'confirmed') AND o.run_id <> @run_id
            """);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("TRUNCATE rule_result"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL enable_hashjoin = on"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL enable_mergejoin = on"));
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
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

    /// <summary>
    /// Writes a rule's findings and closes its earlier ones (in a re-check: within the rule's scope, the query
    /// <paramref name="scope"/> of record ids, and for school-level rules the schools of scope_school).
    /// </summary>
    private static async Task<long> StoreFindingsAsync(NpgsqlConnection connection, Rule rule, List<Failing> failing, Round round, int? previous,
        DateOnly schoolYearStart, long runId, string? scope, CancellationToken cancellationToken)
    {
        var wholeRound = scope is null;
        await Execute(connection, "SET LOCAL enable_nestloop = on", cancellationToken);
        await CopyResultsAsync(connection, failing.Select(row => (row, (string?)null)), cancellationToken);

        // A re-check keeps only what falls in the rule's scope (a rule with partners also reports on them).
        await using var batch = new NpgsqlBatch(connection) { Timeout = 0 };
        if (!wholeRound)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand($"""
                DELETE FROM rule_result q
                WHERE  CASE WHEN q.record_id IS NULL THEN q.school_code IS NULL OR q.school_code NOT IN (SELECT c.school_code FROM scope_school c)
                            ELSE q.record_id NOT IN {scope} END
                """));
        }

        // The findings, each with its fingerprint (the same problem in another run or round) and the round it was first
        // seen in. A problem that was confirmed (explained, and the explanation accepted) stays confirmed while its value
        // is the same.
        var findings = new NpgsqlBatchCommand("""
            INSERT INTO quality.finding (round_id, run_id, rule_id, rule_version, severity, record_id, record_version, school_code,
                                         student_no, field, value, detail, fingerprint, first_seen_round_id, status)
            SELECT @round_id, @run_id, @rule_id, @rule_version, coalesce(q.severity, @rule_severity), q.record_id, c.version,
                   coalesce(c.school_code, q.school_code), c.student_no, q.field, q.value, q.detail, fp.fingerprint,
                   coalesce((SELECT min(p.first_seen_round_id) FROM quality.finding p
                             WHERE p.round_id IN (@round_id, @previous_round_id) AND p.fingerprint = fp.fingerprint), @round_id),
                   CASE WHEN EXISTS (SELECT 1 FROM quality.finding o
                                     WHERE  o.round_id = @round_id AND o.fingerprint = fp.fingerprint AND o.status = 'confirmed'
                                       AND  o.record_id IS NOT DISTINCT FROM q.record_id AND o.value IS NOT DISTINCT FROM q.value)
                        THEN 'confirmed' ELSE 'open' END
            FROM   rule_result q
            LEFT   JOIN registry.current_record c ON c.round_id IN (@round_id, @previous_round_id) AND c.record_id = q.record_id
            CROSS  JOIN LATERAL (SELECT concat_ws('|', @rule_id, coalesce(c.school_code, q.school_code), c.student_no, q.field) AS fingerprint) fp
            """);
        AddRuleParameters(findings.Parameters, rule, round, previous, schoolYearStart, runId);
        batch.BatchCommands.Add(findings);
        // The rule's earlier findings in the scope are closed: superseded where this run found the same problem again,
        // resolved where it is gone.
        var close = new NpgsqlBatchCommand($"""
            UPDATE quality.finding o
            SET    status = CASE WHEN EXISTS (SELECT 1 FROM quality.finding n
                                              WHERE  n.round_id = o.round_id AND n.run_id = @run_id AND n.fingerprint = o.fingerprint
                                                AND  n.record_id IS NOT DISTINCT FROM o.record_id)
                             THEN 'superseded' ELSE 'resolved' END,
                   closed_run_id = @run_id
            WHERE  o.round_id = @round_id AND o.rule_id = @rule_id AND o.status IN ('open', 'confirmed') AND o.run_id <> @run_id
              {(wholeRound ? "" : rule.Stage == SchoolStage
                  ? $"AND (o.record_id IN {scope} OR (o.record_id IS NULL AND o.school_code IN (SELECT c.school_code FROM scope_school c)))"
                  : $"AND o.record_id IN {scope}")}
            """);
        AddRuleParameters(close.Parameters, rule, round, previous, schoolYearStart, runId);
        batch.BatchCommands.Add(close);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("TRUNCATE rule_result"));
        await batch.ExecuteNonQueryAsync(cancellationToken);
        return findings.RecordsAffected;
    }

    private static string? Text(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static void AddRuleParameters(NpgsqlParameterCollection parameters, Rule rule, Round round, int? previous, DateOnly schoolYearStart,
        long runId)
    {
        parameters.AddWithValue("round_id", round.RoundId);
        parameters.Add(new NpgsqlParameter("previous_round_id", NpgsqlDbType.Integer) { Value = (object?)previous ?? DBNull.Value });
        parameters.AddWithValue("round_date", round.RoundDate);
        parameters.AddWithValue("school_year_start", schoolYearStart);
        parameters.AddWithValue("province", "23");
        parameters.AddWithValue("run_id", runId);
        parameters.AddWithValue("rule_id", rule.Id);
        parameters.AddWithValue("rule_version", rule.Version);
        parameters.AddWithValue("rule_severity", rule.Severity);
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
