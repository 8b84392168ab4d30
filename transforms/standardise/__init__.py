"""The standardise stage: typed fields, identity, unified codes and lab units; PII removed."""
