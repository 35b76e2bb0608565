"""App Home's back-office: tags, SOS targets, components, usergroups and workspace settings, for admins only."""
