"""The operations decision-support feed (运营决策): versioned, contracted, de-identified exports."""
