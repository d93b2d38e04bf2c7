"""The council's domain: contacts and consent, conversations, outreach, results."""
