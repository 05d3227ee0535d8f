-- 0021 the data team's console at province scale: the explanations to review are listed by status, then school, paged
-- (thousands pending in a province); the audit search pages the newest first within an action or a school.
CREATE INDEX explanation_review ON exchange.explanation (status, school_code, explanation_id);
CREATE INDEX event_action ON audit.event (action, event_id);
CREATE INDEX event_school ON audit.event (school_code, event_id) WHERE school_code IS NOT NULL;
