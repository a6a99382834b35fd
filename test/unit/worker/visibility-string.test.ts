import { visibilityString } from '../../../src/worker/audience-state-counts';

it.each([
  ['audience-sync', "'audience-sync'"],
  ["o'brien", "'o''brien'"],
  ['a\\b', "'a\\b'"],
  ["x' OR TaskQueue != '", "'x'' OR TaskQueue != '''"],
])('quotes the task queue %s for a visibility query as %s', (value, quoted) => {
  expect(visibilityString(value)).toBe(quoted);
});
