-- How many records of each partition a link carries, so person_link.n_records is a sum over
-- partitions and a rerun of a partition replaces its count instead of adding to it.
CREATE TABLE IF NOT EXISTS person_link_partition (
    link_hash VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    institution_code VARCHAR NOT NULL,
    partition_date DATE NOT NULL,
    n_records INTEGER NOT NULL,
    PRIMARY KEY (link_hash, source, institution_code, partition_date)
);
