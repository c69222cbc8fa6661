"""Small primitives shared by every domain: clock, geo conversions, personal-data protection."""
