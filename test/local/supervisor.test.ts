import { Supervised } from '../../local/supervisor';
import { eventually } from '../proxy/harness';
import { alive } from './processes';

function supervised(script: string, restart = true): { unit: Supervised; lines: string[]; exits: (number | null)[] } {
  const lines: string[] = [];
  const exits: (number | null)[] = [];
  const unit = new Supervised({
    name: 'orders/0',
    argv: [process.execPath, '-e', script],
    env: process.env,
    write: (line) => lines.push(line),
    restart,
    onExit: (code) => exits.push(code),
  });
  return { unit, lines, exits };
}

test('output lines are prefixed with the name; an app that keeps exiting is restarted with doubling delays', async () => {
  const { unit, lines, exits } = supervised("console.log('hello'); console.error('oops'); process.exit(3)");
  unit.start();
  await eventually(() => exits.length >= 3, 'three exits', 20_000);
  await unit.stop(1_000);
  expect(lines.slice(0, 2).sort()).toEqual(['[orders/0] hello\n', '[orders/0] oops\n']);
  expect(exits.slice(0, 3)).toEqual([3, 3, 3]);
  expect(lines.filter((l) => l.includes('restarting')).slice(0, 2)).toEqual(['[orders/0] exited; restarting in 250 ms\n', '[orders/0] exited; restarting in 500 ms\n']);
}, 30_000);

test('stop sends SIGTERM to the process group: what the app started goes with it, and no restart follows', async () => {
  // The app starts a grandchild in its group, prints its pid and waits.
  const { unit, lines, exits } = supervised(
    "const c = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); console.log('child ' + c.pid); setInterval(() => {}, 1000);",
  );
  unit.start();
  await eventually(() => lines.some((l) => l.includes('child ')), 'the grandchild to start');
  const grandchild = Number(/child (\d+)/.exec(lines.join(''))![1]);
  const pid = unit.pid!;
  expect(alive(grandchild)).toBe(true);
  await unit.stop(5_000);
  expect(exits).toHaveLength(1);
  expect(unit.pid).toBeUndefined();
  await eventually(() => !alive(pid) && !alive(grandchild), 'the app and its child to be gone');
  expect(lines.some((l) => l.includes('restarting'))).toBe(false);
});
