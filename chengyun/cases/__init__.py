"""The closed loop: cases from report to close and follow-up."""
