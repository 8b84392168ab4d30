SELECT institution_code, name, inst_type FROM dim_institution
