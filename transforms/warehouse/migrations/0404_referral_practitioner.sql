-- The referring family doctor, for the family-doctor referral-arrival rate (转诊到位率).
ALTER TABLE fact_referral ADD COLUMN IF NOT EXISTS from_practitioner_id VARCHAR;
