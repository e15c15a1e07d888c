"""Staff e-mail: what the gateway tells hub staff (a case assigned to them, a due date near, a
ministerial decision wanted), written to a table in the transaction that saw the reason, then
sent by a background task through a port: GOV.UK Notify in production, SMTP locally."""
