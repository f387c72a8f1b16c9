"""The audit trail is append-only in the database itself (PostgreSQL): a trigger refuses every
UPDATE except the sealer's one-time link into the chain, every DELETE of a record younger than
the retention floor, and TRUNCATE. The application's own credentials cannot rewrite history;
the hash chain (``service.verify_chain``) shows what someone with more could have done.
"""

from __future__ import annotations

from sqlalchemy import DDL, event

from platform_core.audit.models import AuditRecord

# Six months and a few days: GB/T 22239 level 2 keeps audit logs at least six months.
RETENTION_FLOOR_DAYS = 184

CREATE = f"""
CREATE OR REPLACE FUNCTION hotline_audit_append_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    RAISE EXCEPTION 'audit trail is append-only: TRUNCATE refused' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF TG_OP = 'UPDATE' THEN
    IF OLD.chain_seq IS NULL AND NEW.chain_seq IS NOT NULL
       AND (NEW.at, NEW.actor_kind, NEW.actor_name, NEW.actor_user_id, NEW.actor_role,
            NEW.actor_region, NEW.action, NEW.target_type, NEW.target_id, NEW.result,
            NEW.detail::text, NEW.source_ip, NEW.row_hash)
           IS NOT DISTINCT FROM
           (OLD.at, OLD.actor_kind, OLD.actor_name, OLD.actor_user_id, OLD.actor_role,
            OLD.actor_region, OLD.action, OLD.target_type, OLD.target_id, OLD.result,
            OLD.detail::text, OLD.source_ip, OLD.row_hash) THEN
      RETURN NEW;  -- the sealer links a record into the chain, once
    END IF;
    RAISE EXCEPTION 'audit trail is append-only: UPDATE refused' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.at > now() - interval '{RETENTION_FLOOR_DAYS} days' OR OLD.chain_seq IS NULL THEN
    RAISE EXCEPTION 'audit records are kept % days: DELETE refused', {RETENTION_FLOOR_DAYS}
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN OLD;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_records_append_only ON audit_records;
CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records
  FOR EACH ROW EXECUTE FUNCTION hotline_audit_append_only();
DROP TRIGGER IF EXISTS audit_records_no_truncate ON audit_records;
CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records
  FOR EACH STATEMENT EXECUTE FUNCTION hotline_audit_append_only();
CREATE OR REPLACE FUNCTION hotline_audit_anchor_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit anchors are append-only' USING ERRCODE = 'insufficient_privilege';
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_chain_anchors_append_only ON audit_chain_anchors;
CREATE TRIGGER audit_chain_anchors_append_only BEFORE UPDATE OR DELETE ON audit_chain_anchors
  FOR EACH ROW EXECUTE FUNCTION hotline_audit_anchor_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_records_append_only ON audit_records;
DROP TRIGGER IF EXISTS audit_records_no_truncate ON audit_records;
DROP TRIGGER IF EXISTS audit_chain_anchors_append_only ON audit_chain_anchors;
DROP FUNCTION IF EXISTS hotline_audit_append_only();
DROP FUNCTION IF EXISTS hotline_audit_anchor_append_only();
"""

# Schemas built from the models (tests, benchmarks) get the same protection as migrated ones.
event.listen(
    AuditRecord.metadata,
    "after_create",
    DDL(CREATE.replace("%", "%%")).execute_if(dialect="postgresql"),
)
