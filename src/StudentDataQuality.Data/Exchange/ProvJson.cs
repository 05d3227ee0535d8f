using System.Globalization;
using System.Text.Json.Nodes;

namespace StudentDataQuality.Data.Exchange;

/// <summary>
/// The lineage of records as a W3C PROV-JSON document (https://www.w3.org/submissions/prov-json/): entities (extract
/// files, record versions, field values, worksheets, returned files, findings), activities (extract, issue, ingest,
/// check) and agents (accounts acting for their school, the pipeline), with the relations between them. A value
/// changed by a return is a revision of the value before it, derived from the returned file at the named cell.
/// </summary>
public static class ProvJson
{
    public static JsonObject Build(IReadOnlyList<RecordLineage> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        var document = new Document();
        foreach (var record in records)
        {
            Add(document, record);
        }

        return document.ToJson();
    }

    private static void Add(Document d, RecordLineage record)
    {
        var school = record.SchoolCode is null ? null : d.Agent($"sdq:school/{record.SchoolCode}", "prov:Organization", ("sdq:schoolCode", record.SchoolCode));
        string Account(string name)
        {
            var id = d.Agent($"sdq:account/{name}", "prov:Person", ("sdq:account", name));
            if (school is not null && name.StartsWith("school-", StringComparison.Ordinal))
            {
                d.Relation("actedOnBehalfOf", ("prov:delegate", id), ("prov:responsible", school));
            }

            return id;
        }

        var pipeline = d.Agent("sdq:pipeline", "prov:SoftwareAgent", ("sdq:name", "StudentDataQuality"));
        var returns = record.Returns.ToDictionary(r => r.ReturnId);
        var answers = record.Confirmations.SelectMany(a => a.Changes.Select(c => (c.ChangeId, Answer: a))).ToDictionary(x => x.ChangeId, x => x.Answer);
        string? previousVersion = null;
        var valueIds = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var version in record.Versions)
        {
            var versionId = d.Entity($"sdq:record/{record.RecordId}/v{version.Version}", "sdq:RecordVersion",
                ("sdq:round", record.RoundCode), ("sdq:version", version.Version), ("sdq:current", version.Current), ("sdq:registrationRemoved", version.Removed));
            string activity;
            if (version.Source is { } source)
            {
                var file = d.Entity($"sdq:file/{source.Sha256}", "sdq:ExtractFile", ("sdq:fileName", source.FileName), ("sdq:sha256", source.Sha256));
                activity = d.Activity($"sdq:extract/{source.FileId}", "sdq:Extract", source.StagedAt);
                d.Relation("used", ("prov:activity", activity), ("prov:entity", file));
                d.Relation("wasAssociatedWith", ("prov:activity", activity), ("prov:agent", Account(source.StagedBy)));
                d.Relation("wasAssociatedWith", ("prov:activity", activity), ("prov:agent", pipeline));
                d.Relation("wasDerivedFrom", ("prov:generatedEntity", versionId), ("prov:usedEntity", file),
                    ("sdq:row", source.Row), ("sdq:sheet", source.Sheet?.ToString(CultureInfo.InvariantCulture) ?? ""));
            }
            else if (version.ReturnId is { } returnId && returns.TryGetValue(returnId, out var returned))
            {
                activity = Ingest(d, returned, Account(returned.ReceivedBy));
            }
            else if (version.ChangeId is { } changeId && answers.TryGetValue(changeId, out var answer))
            {
                activity = Confirm(d, answer, changeId, Account);
            }
            else
            {
                activity = d.Activity($"sdq:unknown/{record.RecordId}/v{version.Version}", "sdq:Unknown", null);
            }

            d.Relation("wasGeneratedBy", ("prov:entity", versionId), ("prov:activity", activity));
            if (previousVersion is not null)
            {
                d.Relation("wasDerivedFrom", ("prov:generatedEntity", versionId), ("prov:usedEntity", previousVersion), ("prov:type", "prov:Revision"));
                d.Relation("used", ("prov:activity", activity), ("prov:entity", previousVersion));
            }

            // Every value of version 1; in later versions, the values a correction changed (the others are the same entity).
            foreach (var (field, value) in version.Values)
            {
                var correction = record.Corrections.FirstOrDefault(c => c.ToVersion == version.Version && c.Field == field);
                if (previousVersion is not null && correction is null)
                {
                    continue;
                }

                var valueId = d.Entity($"sdq:value/{record.RecordId}/v{version.Version}/{field}", "sdq:FieldValue",
                    ("sdq:field", field), ("prov:value", value ?? ""));
                d.Relation("wasGeneratedBy", ("prov:entity", valueId), ("prov:activity", activity));
                if (correction is not null && valueIds.TryGetValue(field, out var before))
                {
                    d.Relation("wasDerivedFrom", ("prov:generatedEntity", valueId), ("prov:usedEntity", before), ("prov:type", "prov:Revision"),
                        ("sdq:correction", correction.CorrectionId), ("sdq:oldValue", correction.OldValue ?? ""));
                    if (correction.ReturnId is { } fromReturn)
                    {
                        d.Relation("wasDerivedFrom", ("prov:generatedEntity", valueId), ("prov:usedEntity", $"sdq:return/{fromReturn}"),
                            ("sdq:sheet", correction.Sheet ?? ""), ("sdq:excelRow", correction.ExcelRow ?? 0), ("sdq:column", correction.Column ?? ""),
                            ("sdq:cell", correction.Cell ?? ""));
                    }
                    else if (correction.ChangeId is { } fromChange && answers.TryGetValue(fromChange, out var fromAnswer))
                    {
                        d.Relation("wasDerivedFrom", ("prov:generatedEntity", valueId), ("prov:usedEntity", $"sdq:confirmation/{fromAnswer.SheetId}"),
                            ("sdq:change", fromChange), ("sdq:field", correction.Field ?? ""));
                    }
                }

                valueIds[field] = valueId;
            }

            previousVersion = versionId;
        }

        foreach (var worksheet in record.Worksheets)
        {
            var id = d.Entity($"sdq:worksheet/{worksheet.WorksheetId}", "sdq:Worksheet", ("sdq:issue", worksheet.IssueNumber),
                ("sdq:fileName", worksheet.FileName), ("sdq:sha256", worksheet.Sha256));
            var issue = d.Activity($"sdq:issue/{worksheet.WorksheetId}", "sdq:IssueWorksheet", worksheet.IssuedAt);
            d.Relation("wasGeneratedBy", ("prov:entity", id), ("prov:activity", issue));
            d.Relation("used", ("prov:activity", issue), ("prov:entity", $"sdq:record/{record.RecordId}/v{worksheet.RecordVersion}"));
            d.Relation("wasAssociatedWith", ("prov:activity", issue), ("prov:agent", Account(worksheet.IssuedBy)));
            foreach (var (actor, at) in worksheet.Downloads)
            {
                var download = d.Activity($"sdq:download/{worksheet.WorksheetId}/{at.ToUnixTimeMilliseconds()}", "sdq:Download", at);
                d.Relation("used", ("prov:activity", download), ("prov:entity", id));
                d.Relation("wasAssociatedWith", ("prov:activity", download), ("prov:agent", Account(actor)));
            }
        }

        foreach (var returned in record.Returns)
        {
            Ingest(d, returned, Account(returned.ReceivedBy));
        }

        foreach (var finding in record.Findings)
        {
            var id = d.Entity($"sdq:finding/{finding.FindingId}", "sdq:Finding", ("sdq:rule", finding.RuleId), ("sdq:ruleVersion", finding.RuleVersion),
                ("sdq:severity", finding.Severity), ("sdq:field", finding.Field), ("prov:value", finding.Value ?? ""), ("sdq:status", finding.Status));
            var check = d.Activity($"sdq:check/{finding.RunId}", finding.RunScope == "full" ? "sdq:Check" : "sdq:Recheck", finding.RunAt);
            d.Relation("wasGeneratedBy", ("prov:entity", id), ("prov:activity", check));
            d.Relation("used", ("prov:activity", check), ("prov:entity", $"sdq:record/{record.RecordId}/v{finding.RecordVersion}"));
            d.Relation("wasAssociatedWith", ("prov:activity", check), ("prov:agent", pipeline));
            if (finding.ClosedRunId is { } closed)
            {
                var closing = d.Activity($"sdq:check/{closed}", finding.ClosedRunScope == "full" ? "sdq:Check" : "sdq:Recheck", finding.ClosedRunAt);
                d.Relation("wasInvalidatedBy", ("prov:entity", id), ("prov:activity", closing));
                d.Relation("wasAssociatedWith", ("prov:activity", closing), ("prov:agent", pipeline));
            }
        }
    }

    /// <summary>
    /// A parent's answer on a confirmation sheet (an entity: the sheet, signed on its date), entered by the class teacher and,
    /// for a change that waited, applied on the registrar's approval.
    /// </summary>
    private static string Confirm(Document d, LineageConfirmation answer, long changeId, Func<string, string> account)
    {
        var sheet = d.Entity($"sdq:confirmation/{answer.SheetId}", "sdq:ConfirmationSheet", ("sdq:sheetId", answer.SheetId),
            ("sdq:signedOn", answer.SignedOn.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)), ("sdq:outcome", answer.Outcome),
            ("sdq:fileName", answer.FileName ?? ""));
        d.Relation("wasAttributedTo", ("prov:entity", sheet), ("prov:agent", account(answer.EnteredBy)));
        var change = answer.Changes.First(c => c.ChangeId == changeId);
        var activity = d.Activity($"sdq:confirm/{changeId}", "sdq:ApplyParentAnswer", change.DecidedAt ?? answer.EnteredAt);
        d.Relation("used", ("prov:activity", activity), ("prov:entity", sheet));
        d.Relation("wasAssociatedWith", ("prov:activity", activity), ("prov:agent", account(answer.EnteredBy)));
        if (change.DecidedBy is { } registrar)
        {
            d.Relation("wasAssociatedWith", ("prov:activity", activity), ("prov:agent", account(registrar)));
        }

        return activity;
    }

    private static string Ingest(Document d, LineageReturn returned, string account)
    {
        var file = d.Entity($"sdq:return/{returned.ReturnId}", "sdq:ReturnedFile", ("sdq:fileName", returned.FileName), ("sdq:sha256", returned.Sha256),
            ("sdq:issue", returned.IssueNumber));
        var activity = d.Activity($"sdq:ingest/{returned.ReturnId}", "sdq:Ingest", returned.ReceivedAt);
        d.Relation("used", ("prov:activity", activity), ("prov:entity", file));
        d.Relation("used", ("prov:activity", activity), ("prov:entity", $"sdq:worksheet/{returned.WorksheetId}"));
        d.Relation("wasAttributedTo", ("prov:entity", file), ("prov:agent", account));
        d.Relation("wasAssociatedWith", ("prov:activity", activity), ("prov:agent", account));
        return activity;
    }

    /// <summary>The document being built: each node once, each relation once, relation ids numbered per kind.</summary>
    private sealed class Document
    {
        private readonly JsonObject _entities = [];
        private readonly JsonObject _activities = [];
        private readonly JsonObject _agents = [];
        private readonly SortedDictionary<string, JsonObject> _relations = new(StringComparer.Ordinal);
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

        public string Entity(string id, string type, params (string Key, object? Value)[] attributes) => Node(_entities, id, type, null, attributes);

        public string Agent(string id, string type, params (string Key, object? Value)[] attributes) => Node(_agents, id, type, null, attributes);

        public string Activity(string id, string type, DateTimeOffset? start) => Node(_activities, id, type, start, []);

        public void Relation(string kind, params (string Key, object? Value)[] attributes)
        {
            var key = kind + "|" + string.Join("|", attributes.Select(a => a.Key + "=" + a.Value));
            if (!_seen.Add(key))
            {
                return;
            }

            if (!_relations.TryGetValue(kind, out var list))
            {
                _relations[kind] = list = [];
            }

            var relation = new JsonObject();
            foreach (var (name, value) in attributes)
            {
                relation[name] = Value(value);
            }

            list[$"_:{kind}{list.Count + 1}"] = relation;
        }

        public JsonObject ToJson()
        {
            var json = new JsonObject
            {
                ["prefix"] = new JsonObject { ["sdq"] = "urn:studentdataquality:", ["prov"] = "http://www.w3.org/ns/prov#" },
                ["entity"] = _entities,
                ["activity"] = _activities,
                ["agent"] = _agents,
            };
            foreach (var (kind, relations) in _relations)
            {
                json[kind] = relations;
            }

            return json;
        }

        private static string Node(JsonObject nodes, string id, string type, DateTimeOffset? start, (string Key, object? Value)[] attributes)
        {
            if (nodes.ContainsKey(id))
            {
                return id;
            }

            var node = new JsonObject { ["prov:type"] = type };
            if (start is { } at)
            {
                node["prov:startTime"] = at.ToString("o", CultureInfo.InvariantCulture);
            }

            foreach (var (key, value) in attributes)
            {
                node[key] = Value(value);
            }

            nodes[id] = node;
            return id;
        }

        private static JsonNode? Value(object? value) => value switch
        {
            null => null,
            bool b => JsonValue.Create(b),
            int i => JsonValue.Create(i),
            long l => JsonValue.Create(l),
            _ => JsonValue.Create(Convert.ToString(value, CultureInfo.InvariantCulture)),
        };
    }
}
