"""Monthly submission quality report (上报完整性、及时性): figures, warehouse tables, HTML/CSV/XLSX."""
