-- 0023 whether a school downloaded its worksheet (a district's table asks it for each of its schools on a page): the
-- download entries of the audit log found by the worksheet they name, not by scanning every download of the province.
CREATE INDEX event_download ON audit.event (object) WHERE action = 'worksheet.download';
