// Audit entries for writes made through the API: the actor is the caller's key.
import type { FastifyRequest } from 'fastify';
import type { AuditEntryInput } from '@switchyard/db';

export function auditEntry(
  req: FastifyRequest,
  action: string,
  target: string,
  detail?: Record<string, unknown>,
): AuditEntryInput {
  const p = req.principal;
  return {
    actor: p?.prefix ?? 'anonymous',
    role: p?.role ?? 'none',
    action,
    target,
    detail: detail ?? null,
    requestId: req.id,
  };
}
