// Step ids are `${planKey}:${phaseIndex}:${stepIndex}:${target}`. BullMQ (6.x) refuses a custom
// job id with ":" unless it splits into exactly three parts, so a step id is not a valid job id
// as it is; stepJobId gives the same id with "." for ":" (plan keys and targets never hold ":").

export function stepJobId(stepId: string): string {
  return stepId.replaceAll(':', '.');
}
