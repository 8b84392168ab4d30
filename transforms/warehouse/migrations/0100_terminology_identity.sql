-- Unified code set, unmapped codes and the master patient index (module: identity/terminology).
CREATE TABLE IF NOT EXISTS cs_concept (
    system VARCHAR NOT NULL,               -- code-system URI (transforms/terminology/systems.py)
    code VARCHAR NOT NULL,
    display VARCHAR NOT NULL,
    display_en VARCHAR,
    code_system_name VARCHAR NOT NULL,     -- file stem, e.g. loinc_lab_subset, sex
    version VARCHAR,
    kind VARCHAR,                          -- lab | diagnosis | drug | exam | value_domain
    properties VARCHAR,                    -- JSON object of the other columns (unit, hr_item_code, ...)
    PRIMARY KEY (system, code)
);
CREATE TABLE IF NOT EXISTS cs_designation (
    system VARCHAR NOT NULL,               -- value-domain aliases: local spellings that mean the code
    code VARCHAR NOT NULL,
    alias VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS cm_concept_map (
    map_id VARCHAR NOT NULL,
    map_version VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    dictionary VARCHAR NOT NULL,           -- local dictionary id (source_system in the CSV)
    source_code VARCHAR NOT NULL,
    source_display VARCHAR,
    target_system VARCHAR NOT NULL,
    target_code VARCHAR NOT NULL,
    target_display VARCHAR,
    equivalence VARCHAR NOT NULL,
    unit VARCHAR,
    ref_low DOUBLE PRECISION,
    ref_high DOUBLE PRECISION,
    hr_item_code VARCHAR,
    reviewed_by VARCHAR,
    PRIMARY KEY (kind, dictionary, source_code)
);
CREATE TABLE IF NOT EXISTS unmapped_code (
    table_name VARCHAR NOT NULL,           -- canonical table
    field VARCHAR NOT NULL,                -- coded field, e.g. item_code
    kind VARCHAR NOT NULL,                 -- concept-map kind or value domain name
    dictionary VARCHAR,                    -- local dictionary id (NULL when none is configured)
    local_code VARCHAR NOT NULL,
    local_display VARCHAR,
    source VARCHAR NOT NULL,
    institution_code VARCHAR NOT NULL,
    partition_date DATE NOT NULL,
    n_records INTEGER NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS person_link (
    link_hash VARCHAR PRIMARY KEY,         -- HMAC of the link value (id / demographic / local); never clear text
    link_type VARCHAR NOT NULL,            -- id_number | demographic | local_id
    person_key VARCHAR NOT NULL,
    link_method VARCHAR NOT NULL,          -- how person_key was reached for this link value
    first_seen DATE NOT NULL,
    last_seen DATE NOT NULL,
    institutions VARCHAR NOT NULL,         -- '|'-joined institution codes that submitted it
    n_records INTEGER NOT NULL
);
