"""Linear: an issue per incident through the GraphQL API, moved between workflow states as the incident moves."""
