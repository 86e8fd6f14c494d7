/**
 * Helpers for the worker tests: calls to the Worker (through `SELF`, inside workerd) and to the
 * Wiro emulator's control API (over loopback), so each test can set up Wiro's side, act, and
 * prove what reached Wiro.
 */
import {
  createExecutionContext,
  env,
  evictDurableObject,
  runInDurableObject,
  SELF,
  waitOnExecutionContext,
} from 'cloudflare:test';
import { inject } from 'vitest';
import type { Bindings } from '../../worker/env';
import type { BudgetObject, DayUsage } from '../../worker/guard/budget';
import worker from '../../worker/index';
import type { TaskObject } from '../../worker/task/task-object';
import { MAC_LENGTH, taskObjectId } from '../../worker/task/token';

export const BASE = 'https://edge.test';

/** The Durable Object id a task's token or taskid opens: its key is all but the MAC at its end. */
export function taskObjectIdOf(identifier: string): DurableObjectId {
  return taskObjectId(env as Bindings, identifier.slice(0, -MAC_LENGTH));
}

/** The Durable Object of the task a token or taskid names (for runInDurableObject and its alarm). */
export function taskObjectOf(identifier: string) {
  return env.TASK.get(taskObjectIdOf(identifier)) as DurableObjectStub<TaskObject>;
}

/** Wiro's (the emulator's) id of the task a Worker token names: its Run carried the object's callback URL. */
export async function wiroIdOf(identifier: string): Promise<string> {
  const objectId = taskObjectIdOf(identifier).toString();
  const task = (await emulator.state()).tasks.find((candidate) => String(candidate.callbackurl).includes(objectId));
  if (!task) throw new Error(`no emulator task for ${identifier}`);
  return task.id;
}
export const RUN_PATH = '/v1/Run/wiro/text-to-image-flux-lora-fast';

export interface EmulatorCall {
  route: string;
  path: string;
  nonce?: string;
  body: Record<string, unknown>;
  status: number;
}

export interface EmulatorState {
  calls: EmulatorCall[];
  sockets?: Array<{
    taskid: string | null;
    openedAt: number;
    closedAt?: number | null;
    status?: number;
    messages: number;
  }>;
  tasks: Array<Record<string, unknown> & { id: string; status: string }>;
  callbacks: Array<{ taskid: string; url: string; status?: number; error?: string; dropped?: boolean }>;
}

const emulatorUrl = () => inject('emulatorUrl');

async function control(path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${emulatorUrl()}/__emulator/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`emulator ${path}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

export const emulator = {
  state: () => control('state') as Promise<EmulatorState>,
  reset: () => control('reset', {}),
  fault: (fault: { route: string; kind: string; times?: number; delayMs?: number }) => control('faults', fault),
  config: (config: {
    speed?: number;
    dropCallbacks?: boolean;
    failNextTasks?: number;
    fatalNextTasks?: number;
    failMessage?: string;
    socket?: boolean;
  }) => control('config', config),
  advance: (taskid: string, to?: string) =>
    control(`tasks/${taskid}/advance`, to ? { to } : {}) as Promise<Record<string, unknown>>,
  /** How many calls reached the emulator, to prove that a refused request sent nothing. */
  async callCount(): Promise<number> {
    return (await emulator.state()).calls.length;
  },
};

export function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return SELF.fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export const validRun = { prompt: 'a lion under a starry sky', steps: 20, width: 1024, height: 1024 };

export interface RunResult {
  taskid: string;
  socketaccesstoken: string;
  /** Wiro's own id for the task, which the Worker never shows: for driving the emulator. */
  wiroId: string;
}

export async function startTask(body: Record<string, unknown> = validRun): Promise<RunResult> {
  const response = await post(RUN_PATH, body);
  const answer = (await response.json()) as RunResult & { result: boolean };
  if (response.status !== 200 || !answer.result) throw new Error(`Run failed: ${JSON.stringify(answer)}`);
  return { taskid: answer.taskid, socketaccesstoken: answer.socketaccesstoken, wiroId: await wiroIdOf(answer.taskid) };
}

export async function detail(tasktoken: string) {
  const response = await post('/v1/Task/Detail', { tasktoken });
  return { response, body: (await response.json()) as Record<string, any> };
}

/** Calls the app as the Worker would, from one visitor's IP, with some vars changed. */
export async function call(
  path: string,
  init: RequestInit & { vars?: Record<string, string>; ip?: string } = {},
): Promise<Response> {
  const { vars = {}, ip = '203.0.113.7', ...rest } = init;
  const headers = new Headers(rest.headers);
  headers.set('cf-connecting-ip', ip);
  if (rest.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
  const request = new Request(`${BASE}${path}`, { ...rest, headers });
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, { ...(env as unknown as Bindings), ...vars }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

export function runAs(
  ip: string,
  vars: Record<string, string> = {},
  headers: Record<string, string> = {},
  body: Record<string, unknown> = validRun,
) {
  return call(RUN_PATH, { method: 'POST', body: JSON.stringify(body), ip, vars, headers });
}

export const budgetStub = () => env.BUDGET.get(env.BUDGET.idFromName('global')) as DurableObjectStub<BudgetObject>;

interface BudgetState {
  usage: DayUsage;
  reservations: Record<string, { origin: string; amount: number; units: number; at: number }>;
  perUnit: number[];
}

/** Changes the budget's stored state, then restarts the object so it reads it. */
export async function setBudget(patch: (state: BudgetState) => void) {
  await runInDurableObject(budgetStub(), async (instance, storage) => {
    (instance as unknown as BudgetObject).usage(); // a new day starts empty
    const saved = (await storage.storage.get<BudgetState>('usage')) ?? {
      usage: { day: new Date().toISOString().slice(0, 10), runs: 0, spend: 0, origins: {} },
      reservations: {},
      perUnit: [],
    };
    patch(saved);
    await storage.storage.put('usage', saved);
  });
  await evictDurableObject(budgetStub());
}

export function setUsage(patch: (usage: DayUsage) => void) {
  return setBudget((state) => patch(state.usage));
}

/** A day with nothing spent, nothing reserved and nothing learned. */
export function resetBudget() {
  return setBudget((state) => {
    state.usage = { day: new Date().toISOString().slice(0, 10), runs: 0, spend: 0, origins: {} };
    state.reservations = {};
    state.perUnit = [];
  });
}

/** Today's usage as the budget reports it. */
export function budgetUsage() {
  return runInDurableObject(budgetStub(), (instance: BudgetObject) => instance.usage());
}
