// Run-time needs that no DT_NEEDED names, decided from the symbols a program
// imports: NSS modules and their configuration, the
// unwinder libgcc_s.so.1, gconv modules, libidn2, and plugins behind dlopen.
// The rules follow glibc's nss/nss_module.c, nss/nss_database.c,
// misc/unwind-link.c, iconv/gconv_dl.c and inet/idna.c.

/** The NSS database each imported function consults (glibc nss/databases.def). */
const NSS_DATABASE_BY_FUNCTION = new Map<string, string>();

function addDatabase(database: string, functions: string[]): void {
  for (const name of functions) {
    NSS_DATABASE_BY_FUNCTION.set(name, database);
    NSS_DATABASE_BY_FUNCTION.set(`${name}_r`, database);
  }
}

addDatabase('hosts', [
  'getaddrinfo', 'getnameinfo', 'gethostbyname', 'gethostbyname2', 'gethostbyaddr', 'gethostent',
  'sethostent', 'rcmd', 'rcmd_af', 'rexec', 'rexec_af', 'ruserok', 'ruserok_af',
]);
addDatabase('passwd', ['getpwnam', 'getpwuid', 'getpwent', 'setpwent', 'getpw', 'cuserid', 'wordexp']);
addDatabase('group', ['getgrnam', 'getgrgid', 'getgrent', 'setgrent']);
addDatabase('initgroups', ['getgrouplist', 'initgroups']);
addDatabase('shadow', ['getspnam', 'getspent']);
addDatabase('gshadow', ['getsgnam', 'getsgent']);
addDatabase('services', ['getservbyname', 'getservbyport', 'getservent']);
addDatabase('protocols', ['getprotobyname', 'getprotobynumber', 'getprotoent']);
addDatabase('networks', ['getnetbyname', 'getnetbyaddr', 'getnetent']);
addDatabase('rpc', ['getrpcbyname', 'getrpcbynumber', 'getrpcent']);
addDatabase('ethers', ['ether_hostton', 'ether_ntohost']);
addDatabase('netgroup', ['setnetgrent', 'getnetgrent', 'innetgr']);
addDatabase('aliases', ['getaliasbyname', 'getaliasent']);

// pthread_cancel and pthread_exit unwind the stack through libgcc_s.so.1,
// which glibc loads with dlopen on first use. backtrace does the same.
const UNWINDER_USERS = new Set(['pthread_cancel', 'pthread_exit', 'backtrace', '__pthread_unwind_next']);

export interface RuntimeNeeds {
  /** NSS databases the imports consult, with one importing symbol each, for the report. */
  nssDatabases: Map<string, string>;
  /** An import that makes glibc load libgcc_s.so.1, if any. */
  unwinderUser?: string;
  usesIconv: boolean;
  usesDlopen: boolean;
}

/** Collects the run-time needs from the imported symbols of one object. */
export function collectRuntimeNeeds(imports: ReadonlyArray<{ name: string }>): RuntimeNeeds {
  const needs: RuntimeNeeds = { nssDatabases: new Map(), usesIconv: false, usesDlopen: false };
  for (const { name } of imports) {
    const database = NSS_DATABASE_BY_FUNCTION.get(name);
    if (database !== undefined && !needs.nssDatabases.has(database)) needs.nssDatabases.set(database, name);
    if (UNWINDER_USERS.has(name) && needs.unwinderUser === undefined) needs.unwinderUser = name;
    if (name === 'iconv_open') needs.usesIconv = true;
    if (name === 'dlopen' || name === 'dlmopen') needs.usesDlopen = true;
  }
  return needs;
}

/**
 * Lists the NSS service modules glibc loads for the given databases with the
 * nsswitch.conf the image gets (every database: `files`, hosts also `dns`).
 * Since glibc 2.34 both services are built into libc.so.6; before, each is a
 * module, and `dns` needs libresolv.so.2.
 */
export function nssModulesFor(databases: Iterable<string>, glibcVersion: [number, number] | undefined): string[] {
  const list = [...databases];
  if (list.length === 0) return [];
  if (glibcVersion && compareVersions(glibcVersion, [2, 34]) >= 0) return [];

  const modules = ['libnss_files.so.2'];
  if (list.includes('hosts') || list.includes('networks')) modules.push('libnss_dns.so.2', 'libresolv.so.2');
  return modules;
}

export function compareVersions(a: [number, number], b: [number, number]): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}

/** Parses "GLIBC_2.36" or "2.36" into [2, 36]. */
export function parseGlibcVersion(text: string): [number, number] | undefined {
  const match = /(?:^|GLIBC_)(\d+)\.(\d+)/.exec(text);
  if (!match) return undefined;
  return [Number(match[1]), Number(match[2])];
}

/** The highest GLIBC_x.y among version definitions, e.g. of libc.so.6; GLIBC_PRIVATE is ignored. */
export function highestGlibcVersion(versionNames: Iterable<string>): [number, number] | undefined {
  let highest: [number, number] | undefined;
  for (const name of versionNames) {
    if (!/^GLIBC_\d+\.\d+/.test(name)) continue;
    const version = parseGlibcVersion(name);
    if (version && (!highest || compareVersions(version, highest) > 0)) highest = version;
  }
  return highest;
}
