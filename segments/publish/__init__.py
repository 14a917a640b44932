"""Publishing: the contract of the tables Python owns (`contract`), write-audit-publish of a run's assignments
(`write_audit_publish`) and the read-only snapshot file tools read (`snapshot`)."""
