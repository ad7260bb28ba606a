// Turns zod issues into ConfigIssues written for the user: key path, value,
// reason, expected form and example. zod's own texts ("Invalid input") name
// none of these.

import type { z } from 'zod';

import { type ConfigIssue, formatKeyPath, formatValue, valueAtPath } from './errors';
import { findFieldDoc, keyPattern } from './field-docs';

type Issue = z.core.$ZodIssue;

/** Known keys of each strict object, by key pattern, for unknown-key messages. */
export type KnownKeys = Record<string, readonly string[]>;

/** Names a key path in messages; readers of other formats map it to their own key names. */
export type DescribePath = (keyPath: readonly PropertyKey[]) => string;

/**
 * Converts zod issues for `input` into ConfigIssues, one per key path (the
 * first issue at a path wins, because a later one repeats the same fault).
 */
export function describeIssues(
  issues: readonly Issue[],
  input: unknown,
  knownKeys: KnownKeys,
  describePath: DescribePath = formatKeyPath,
): ConfigIssue[] {
  const described: ConfigIssue[] = [];
  const seenPaths = new Set<string>();

  for (const issue of issues.flatMap((each) => expandUnion(each, []))) {
    for (const configIssue of describeIssue(issue, input, knownKeys, describePath)) {
      if (!seenPaths.has(configIssue.path)) {
        seenPaths.add(configIssue.path);
        described.push(configIssue);
      }
    }
  }
  return described;
}

/**
 * Replaces a union failure by the issues of the one branch whose type matches
 * the value, so `{ "from": "a" }` in `files` reports the missing `to` key.
 * When no single branch matches, the union issue itself is kept.
 */
function expandUnion(issue: Issue, prefix: readonly PropertyKey[]): Issue[] {
  const path = [...prefix, ...issue.path];
  if (issue.code !== 'invalid_union') {
    return [{ ...issue, path } as Issue];
  }

  const matchingBranches = issue.errors.filter((branch) => !branch.some((each) => isTypeMismatch(each)));
  const [onlyBranch] = matchingBranches;
  if (matchingBranches.length !== 1 || !onlyBranch) {
    return [{ ...issue, path } as Issue];
  }
  return onlyBranch.flatMap((each) => expandUnion(each, path));
}

/** Tells whether the value has another JSON type than the branch expects. A fraction where an integer is expected has the right type. */
function isTypeMismatch(issue: Issue): boolean {
  return issue.code === 'invalid_type' && issue.path.length === 0 && issue.expected !== 'int';
}

function describeIssue(issue: Issue, input: unknown, knownKeys: KnownKeys, describePath: DescribePath): ConfigIssue[] {
  const path = issue.path;

  if (issue.code === 'unrecognized_keys') {
    const pattern = keyPattern(path);
    const known = knownKeys[pattern] ?? [];
    return issue.keys.map((key) => ({
      path: describePath([...path, key]),
      message: unknownKeyMessage(key, known),
    }));
  }

  const value = valueAtPath(input, path);
  const isKeyIssue = issue.code === 'invalid_key' || (issue.code === 'custom' && issue.params?.['isKey'] === true);
  const doc = findFieldDoc(keyPattern(path, isKeyIssue));
  const hint = `Expected ${doc.expected}. Example: ${doc.example}.`;

  if (isKeyIssue) {
    const key = String(path[path.length - 1]);
    const reason = issue.code === 'custom' ? issue.message : 'is not a valid key';
    return [{ path: describePath(path), message: `the key ${JSON.stringify(key)} ${reason}. ${hint}` }];
  }

  return [{ path: describePath(path), message: `${valueReason(issue, value)}. ${hint}` }];
}

/** Says what is wrong with the value itself, starting with the value. */
function valueReason(issue: Issue, value: unknown): string {
  if (value === undefined) {
    return 'missing';
  }
  if (issue.code === 'custom') {
    return `${formatValue(value)} ${issue.message}`;
  }

  if (issue.code === 'invalid_type' && issue.expected === 'int') {
    return `${formatValue(value)} is not a whole number`;
  }

  const isWrongType = issue.code === 'invalid_type' || issue.code === 'invalid_union';
  if (isWrongType) {
    return `${formatValue(value)} is ${describeType(value)}`;
  }
  return `${formatValue(value)} is invalid`;
}

function describeType(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'an array';
  }
  const type = typeof value;
  return type === 'object' ? 'an object' : `a ${type}`;
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const suggestion = closestKey(key, known);
  const didYouMean = suggestion ? ` Did you mean ${JSON.stringify(suggestion)}?` : '';
  const knownList = known.length > 0 ? ` Known keys: ${known.join(', ')}.` : '';
  return `unknown key.${didYouMean}${knownList}`;
}

/** Returns the known key that differs from `key` only in case or by at most two edits. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const lowerKey = key.toLowerCase();
  const sameIgnoringCase = known.find((candidate) => candidate.toLowerCase() === lowerKey);
  if (sameIgnoringCase) {
    return sameIgnoringCase;
  }

  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(lowerKey, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance between two strings. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
