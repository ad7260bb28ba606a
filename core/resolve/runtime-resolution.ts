// Adds to a resolution what the program loads or reads at run time without a
// DT_NEEDED: NSS modules and their /etc files, libgcc_s.so.1, and notes on
// gconv modules, libidn2 and the program's own dlopen calls.

import * as fs from 'node:fs';
import type { ElfInfo } from '../elf/types';
import { nameLookupFiles } from './etc-files';
import type { GlibcLoader } from './glibc-loader';
import type { LoadSession } from './load-session';
import type { LoadedObject } from './loaded-object';
import { staticResolverNeeds } from './musl-resolver';
import { collectRuntimeNeeds, compareVersions, highestGlibcVersion, nssModulesFor, type RuntimeNeeds } from './runtime-needs';
import type { ExtraFile } from './types';

/** Resolves the run-time libraries of a dynamic glibc program and returns the /etc files it needs. */
export function addRuntimeNeeds(session: LoadSession, loader: GlibcLoader): ExtraFile[] {
  const needs = mergeRuntimeNeeds(session.objects.map((object) => runtimeNeedsOf(object.elf)));
  const libc = findLibc(session);
  // libc loads these with dlopen, so libc is the requester and the program's
  // DT_RPATH applies to them (elf/dl-load.c).
  const requester = libc ?? session.program;
  const glibcVersion = libc ? highestGlibcVersion(libc.elf.versionDefinitions ?? []) : undefined;
  const extraFiles: ExtraFile[] = [];

  if (needs.nssDatabases.size > 0) {
    const users = [...needs.nssDatabases].map(([database, symbol]) => `${symbol} (${database})`).join(', ');
    const reason = `name service lookups: ${users}`;
    for (const module of nssModulesFor(needs.nssDatabases.keys(), glibcVersion)) {
      loadAtRunTime(session, loader, module, requester, `${reason}; glibc before 2.34 loads ${module} with dlopen`);
    }
    extraFiles.push(...nameLookupFiles(reason, needs.nssDatabases.keys()));
    if (needs.nssDatabases.has('hosts')) {
      session.diagnostics.push({
        level: 'info',
        message: 'getaddrinfo/getnameinfo load libidn2.so.0 only for the AI_IDN/NI_IDN flags; it is not added (add it with files if the program uses them)',
      });
    }
  }

  if (needs.unwinderUser !== undefined) {
    loadAtRunTime(session, loader, 'libgcc_s.so.1', requester, `${needs.unwinderUser}: glibc loads the unwinder libgcc_s.so.1 with dlopen to unwind the stack`);
  }
  if (needs.usesIconv) {
    session.diagnostics.push({
      level: 'info',
      message: 'iconv_open is imported: conversions other than ASCII, UTF-8, UCS-2 and UCS-4 load gconv modules (e.g. /usr/lib/x86_64-linux-gnu/gconv/UTF-16.so); add the ones the program uses with files',
    });
  }
  if (needs.usesDlopen) {
    session.diagnostics.push({
      level: 'info',
      message: 'dlopen is imported: libraries the program opens by name at run time cannot be seen in the file; add them with files',
    });
  }
  return extraFiles;
}

// Each parsed file is shared by every program that loads it, so its needs are computed once.
const needsByFile = new WeakMap<ElfInfo, RuntimeNeeds>();

function runtimeNeedsOf(elf: ElfInfo): RuntimeNeeds {
  let needs = needsByFile.get(elf);
  if (!needs) {
    needs = collectRuntimeNeeds(elf.imports ?? []);
    needsByFile.set(elf, needs);
  }
  return needs;
}

function mergeRuntimeNeeds(list: RuntimeNeeds[]): RuntimeNeeds {
  const merged: RuntimeNeeds = { nssDatabases: new Map(), usesIconv: false, usesDlopen: false };
  for (const needs of list) {
    for (const [database, symbol] of needs.nssDatabases) if (!merged.nssDatabases.has(database)) merged.nssDatabases.set(database, symbol);
    if (merged.unwinderUser === undefined && needs.unwinderUser !== undefined) merged.unwinderUser = needs.unwinderUser;
    merged.usesIconv ||= needs.usesIconv;
    merged.usesDlopen ||= needs.usesDlopen;
  }
  return merged;
}

function loadAtRunTime(session: LoadSession, loader: GlibcLoader, name: string, requester: LoadedObject, reason: string): void {
  const outcome = loader.loadAtRunTime(name, requester, reason);
  if (outcome.kind === 'missing') session.missing.push(outcome.missing);
}

function findLibc(session: LoadSession): LoadedObject | undefined {
  return session.objects.find((object) => object.role === 'library' && (object.names.has('libc.so.6') || object.soname === 'libc.so.6'));
}

// Strings that glibc's NSS code puts into a statically linked program.
const NSSWITCH_MARKER = Buffer.from('/etc/nsswitch.conf');
const GLIBC_RELEASE_MARKER = /GNU C Library[^\n\0]*?release version (\d+)\.(\d+)/;

/**
 * Returns the /etc files a statically linked program needs, because Go reads them itself, and
 * static glibc still runs NSS (and dlopens its modules before glibc 2.34).
 */
export function staticProgramNeeds(hostPath: string, elf: ElfInfo, session: LoadSession): ExtraFile[] {
  if (elf.classification.go) {
    return nameLookupFiles('Go program: the net and os/user packages read these files directly', []);
  }
  const bytes = fs.readFileSync(hostPath);
  if (elf.classification.libc !== 'glibc') return staticResolverNeeds(bytes, elf.classification.libc);

  if (!bytes.includes(NSSWITCH_MARKER)) return [];

  const release = GLIBC_RELEASE_MARKER.exec(bytes.toString('latin1'));
  const version: [number, number] | undefined = release ? [Number(release[1]), Number(release[2])] : undefined;
  session.diagnostics.push({
    level: 'warning',
    message: 'static glibc program that uses NSS (name, user or service lookups): it reads /etc/nsswitch.conf, /etc/hosts, /etc/passwd and /etc/resolv.conf at run time; these files are added',
  });
  if (!version || compareVersions(version, [2, 34]) < 0) {
    session.diagnostics.push({
      level: 'warning',
      message: `the program's glibc is ${version ? version.join('.') : 'of unknown version'}; before 2.34, static NSS dlopens libnss_files.so.2 and libnss_dns.so.2 of exactly that glibc version: add them with files, or link the program dynamically`,
    });
  }
  return nameLookupFiles('static glibc program using NSS', ['hosts', 'passwd', 'group']);
}
