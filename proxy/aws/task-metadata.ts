/**
 * This task's Cloud Map instance id from the ECS task metadata endpoint (v4): the task id, exactly
 * as the discovery controller registers it (`instanceIdForTask` of the task ARN).
 */
import { instanceIdForTask } from '../contracts/mesh-layout';
import { WeftError } from '../errors';

const METADATA_TIMEOUT_MS = 5_000;

export async function instanceIdFromTaskMetadata(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const base = env.ECS_CONTAINER_METADATA_URI_V4;
  if (!base) throw new WeftError('WEFT_ERR_SETTINGS_INVALID', 'no Cloud Map instance id: set WEFT_CLOUD_MAP_INSTANCE_ID, or run on ECS (ECS_CONTAINER_METADATA_URI_V4)');
  const res = await fetch(`${base}/task`, { signal: AbortSignal.timeout(METADATA_TIMEOUT_MS) });
  if (!res.ok) throw new WeftError('WEFT_ERR_TASK_METADATA', `task metadata answered ${res.status}`);
  const body = (await res.json()) as { TaskARN?: unknown };
  if (typeof body.TaskARN !== 'string') throw new WeftError('WEFT_ERR_TASK_METADATA', 'task metadata has no TaskARN');
  return instanceIdForTask(body.TaskARN);
}
