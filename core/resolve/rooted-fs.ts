// File access inside a target root folder (a sysroot), with the path
// resolution rules of a process chrooted into that folder, on any host OS.
//
// The rules come from the Linux path_resolution(7) man page. An absolute
// symlink target restarts at the root, and a relative one continues from the
// link's directory. `..` at the root stays at the root, and `..` after a
// symlinked component applies to the link's target, because the walk is
// physical, not lexical. At most 40 symlinks are followed for one path (ELOOP).
//
// The host's own path resolution (fs.realpathSync, or fs.statSync on a path
// inside the root) is never used, because it would follow an absolute link
// such as `lib64/ld-linux-x86-64.so.2 -> /lib/...` out of the root. Each
// component is looked up with lstat on a host path whose directories were
// already confirmed to be real directories inside the root.
//
// Mounts show a host file or folder at a path inside the root, like a bind
// mount over the root. Paths stay paths inside the root: a symlink inside a
// mounted folder is still resolved against the root, and `..` at the mount
// point goes to its parent inside the root. Folders above a mount point that
// the root lacks are shown as empty directories that contain the mount.

import * as nodeFs from 'node:fs';
import * as path from 'node:path';
import * as posix from 'node:path/posix';

import picomatch from 'picomatch';

/** The synchronous host calls RootedFs makes. node:fs implements it, and tests pass a recording wrapper. */
export interface HostIo {
  lstatSync(hostPath: string, options: { bigint: true }): HostStats;
  /** Used only on the root folder itself and on mount sources, which may be host symlinks. */
  statSync(hostPath: string, options: { bigint: true }): HostStats;
  readlinkSync(hostPath: string): string;
  readdirSync(hostPath: string): string[];
  readFileSync(hostPath: string): Uint8Array;
  openSync(hostPath: string, flags: string): number;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  closeSync(fd: number): void;
  accessSync(hostPath: string, mode: number): void;
}

/** The part of fs.BigIntStats that RootedFs reads. */
export interface HostStats {
  dev: bigint;
  ino: bigint;
  mode: bigint;
  size: bigint;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/** Error codes, named as Linux names them. `EISDIR` comes only from file reads, never from resolve(). */
export type RootedErrno = 'ENOENT' | 'ENOTDIR' | 'ELOOP' | 'EACCES' | 'ENAMETOOLONG' | 'EISDIR';

/** Status of a file inside the root. `dev` and `ino` together identify the file, as the loader compares them. */
export interface RootedStat {
  dev: bigint;
  ino: bigint;
  mode: number;
  size: number;
  isFile: boolean;
  isDirectory: boolean;
  isSymbolicLink: boolean;
}

/** One symlink followed during a walk: the link's canonical path inside the root and its target text. */
export interface SymlinkHop {
  link: string;
  target: string;
}

/**
 * A symlink whose target text points outside the root: an absolute target,
 * which is re-rooted, or a relative one that climbs above the root with `..`,
 * which stops at the root. Both still resolve, and callers show them as warnings.
 */
export interface SymlinkNote {
  kind: 'absolute-target' | 'escapes-root';
  link: string;
  target: string;
  message: string;
}

export interface ResolveSuccess {
  ok: true;
  /** Canonical absolute path inside the root, e.g. /usr/lib/x86_64-linux-gnu/libc.so.6. */
  path: string;
  hostPath: string;
  /** Status of the final file, or of the link itself when followFinal is false and the final component is a link. */
  stat: RootedStat;
  /** `dev:ino` of `stat`, the key the loader uses to tell whether two paths open the same file. */
  identity: string;
  links: readonly SymlinkHop[];
  notes: readonly SymlinkNote[];
}

export interface ResolveFailure {
  ok: false;
  errno: RootedErrno;
  /** Path inside the root of the component where resolution failed. */
  path: string;
  message: string;
  links: readonly SymlinkHop[];
  notes: readonly SymlinkNote[];
}

export type ResolveResult = ResolveSuccess | ResolveFailure;

export interface ResolveOptions {
  /** Follow a symlink in the last component (stat-like). False gives lstat-like results. Default true. */
  followFinal?: boolean;
  /** Directory inside the root that relative paths start from. Default `/`. */
  cwd?: string;
}

export type ReadFileResult = (ResolveSuccess & { bytes: Uint8Array }) | ResolveFailure;

/** An open regular file inside the root, for reading parts of large files. */
export interface RootedFile {
  readonly path: string;
  readonly size: number;
  /** Reads up to `length` bytes at `position`, fewer at the end of the file. */
  read(position: number, length: number): Uint8Array;
  close(): void;
}

export type OpenFileResult = (ResolveSuccess & { file: RootedFile }) | ResolveFailure;

/** A host file or folder shown at a path inside the root, like a bind mount over the root. */
export interface RootedMount {
  /** Absolute path inside the root where the host file or folder appears, e.g. /app. */
  imagePath: string;
  /** Host path of the file or folder. A host symlink here is followed, as mount(8) follows its source. */
  hostPath: string;
}

export interface RootedFsOptions {
  mounts?: readonly RootedMount[];
}

/** Linux MAXSYMLINKS: symlinks followed while resolving one path (path_resolution(7)). */
export const MAX_SYMLINK_HOPS = 40;

/** Linux NAME_MAX, in bytes. */
const NAME_MAX = 255;

/** Linux PATH_MAX including the terminating NUL, in bytes. */
const PATH_MAX = 4096;

const GLOB_MAGIC = /[*?[]/;

type HostFailure = { errno: RootedErrno };

export class RootedFs {
  /** Absolute host path of the root folder, without a trailing slash unless it is `/`. */
  readonly root: string;
  private readonly io: HostIo;

  private readonly listings = new Map<string, { names: Set<string>; sorted: readonly string[] } | HostFailure>();
  private readonly lstats = new Map<string, RootedStat | HostFailure>();
  private readonly linkTargets = new Map<string, string | HostFailure>();
  private readonly results = new Map<string, ResolveResult>();
  private rootStat: RootedStat | HostFailure | undefined;
  /** Host path of each mount, by its path inside the root. */
  private readonly mountSources = new Map<string, string>();
  /** Mount points, longest first, so the innermost mount of a path is found first. */
  private readonly mountPoints: string[];
  /** For each folder above a mount point: the names that lead to mount points. */
  private readonly mountParents = new Map<string, Set<string>>();

  constructor(root: string, io: HostIo = nodeFs, options: RootedFsOptions = {}) {
    this.root = path.resolve(root);
    this.io = io;

    for (const mount of options.mounts ?? []) {
      const imagePath = normalizeMountPoint(mount.imagePath);
      if (this.mountSources.has(imagePath)) {
        throw new Error(`Two mounts at ${imagePath} (from ${this.mountSources.get(imagePath)} and ${mount.hostPath}); give each mount its own path inside the root.`);
      }
      this.mountSources.set(imagePath, path.resolve(mount.hostPath));

      const names = imagePath.split('/').slice(1);
      names.forEach((name, depth) => {
        const parent = toPath(names.slice(0, depth));
        let children = this.mountParents.get(parent);
        if (!children) this.mountParents.set(parent, (children = new Set()));
        children.add(name);
      });
    }
    this.mountPoints = [...this.mountSources.keys()].sort((left, right) => right.length - left.length);
  }

  /** Forgets every listing, lstat, readlink and resolve result, e.g. after files in the root changed. */
  clearCache(): void {
    this.listings.clear();
    this.lstats.clear();
    this.linkTargets.clear();
    this.results.clear();
    this.rootStat = undefined;
  }

  /** Host path of a canonical path inside the root, inside a mount's host path when a mount contains it. */
  hostPathOf(pathInRoot: string): string {
    for (const mountPoint of this.mountPoints) {
      if (pathInRoot === mountPoint) return this.mountSources.get(mountPoint) as string;
      if (pathInRoot.startsWith(`${mountPoint}/`)) return (this.mountSources.get(mountPoint) as string) + pathInRoot.slice(mountPoint.length);
    }
    if (pathInRoot === '/') return this.root;
    return this.root === '/' ? pathInRoot : this.root + pathInRoot;
  }

  /**
   * Resolves `pathInRoot` as a process chrooted into the root would. Results
   * are cached, shared between calls and frozen.
   */
  resolve(pathInRoot: string, options: ResolveOptions = {}): ResolveResult {
    const followFinal = options.followFinal ?? true;
    const absolute = pathInRoot.startsWith('/') ? pathInRoot : joinInRoot(options.cwd ?? '/', pathInRoot);
    const key = (followFinal ? 'F' : 'L') + absolute;

    const cached = this.results.get(key);
    if (cached) return cached;

    const result = this.walk(pathInRoot, absolute, followFinal);
    Object.freeze(result.links);
    Object.freeze(result.notes);
    this.results.set(key, Object.freeze(result));
    return result;
  }

  exists(pathInRoot: string): boolean {
    return this.resolve(pathInRoot).ok;
  }

  /** Status after following every symlink, or undefined when the path does not resolve. */
  stat(pathInRoot: string): RootedStat | undefined {
    const result = this.resolve(pathInRoot);
    return result.ok ? result.stat : undefined;
  }

  /** Status of the last component itself (a symlink is not followed), or undefined. */
  lstat(pathInRoot: string): RootedStat | undefined {
    const result = this.resolve(pathInRoot, { followFinal: false });
    return result.ok ? result.stat : undefined;
  }

  /** Target text of a symlink, or undefined when the path is not a symlink. */
  readlink(pathInRoot: string): string | undefined {
    const result = this.resolve(pathInRoot, { followFinal: false });
    if (!result.ok || !result.stat.isSymbolicLink) return undefined;
    const target = this.readLinkTarget(result.path);
    return typeof target === 'string' ? target : undefined;
  }

  /**
   * Names in a directory (without `.` and `..`), sorted by byte order of their
   * UTF-8 encoding, or undefined when the path is not a readable directory.
   */
  listDir(pathInRoot: string): readonly string[] | undefined {
    const result = this.resolve(pathInRoot);
    if (!result.ok || !result.stat.isDirectory) return undefined;
    const listing = this.listing(result.path);
    return 'errno' in listing ? undefined : listing.sorted;
  }

  /** Reads a whole regular file (following symlinks). */
  readFile(pathInRoot: string, options: { cwd?: string } = {}): ReadFileResult {
    const result = this.resolveRegularFile(pathInRoot, options);
    if (!result.ok) return result;

    try {
      return { ...result, bytes: this.io.readFileSync(result.hostPath) };
    } catch (error) {
      return this.hostFailure(result, error);
    }
  }

  /**
   * Resolves a file the caller will open on the host (the ELF reader), and
   * checks that it is readable, since the loader skips unreadable candidates.
   * A directory gives EISDIR, which the loader treats as a fatal candidate.
   */
  openBytes(pathInRoot: string, options: { cwd?: string } = {}): ResolveResult {
    const result = this.resolveRegularFile(pathInRoot, options);
    if (!result.ok) return result;

    try {
      this.io.accessSync(result.hostPath, nodeFs.constants.R_OK);
      return result;
    } catch (error) {
      return this.hostFailure(result, error);
    }
  }

  /** Opens a regular file for positioned reads. The caller must call `file.close()`. */
  openFile(pathInRoot: string, options: { cwd?: string } = {}): OpenFileResult {
    const result = this.resolveRegularFile(pathInRoot, options);
    if (!result.ok) return result;

    let fd: number;
    try {
      fd = this.io.openSync(result.hostPath, 'r');
    } catch (error) {
      return this.hostFailure(result, error);
    }

    const io = this.io;
    let closed = false;
    const file: RootedFile = {
      path: result.path,
      size: result.stat.size,
      read(position: number, length: number): Uint8Array {
        const available = Math.max(0, Math.min(length, result.stat.size - position));
        const buffer = new Uint8Array(available);
        let filled = 0;
        while (filled < available) {
          const count = io.readSync(fd, buffer, filled, available - filled, position + filled);
          if (count === 0) break;
          filled += count;
        }
        return filled === available ? buffer : buffer.subarray(0, filled);
      },
      close(): void {
        if (closed) return;
        closed = true;
        io.closeSync(fd);
      },
    };
    return { ...result, file };
  }

  /**
   * Expands a glob(3) pattern inside the root, as ldconfig does for `include`
   * lines: `*`, `?` and `[...]` match within one component, and a leading `.`
   * must be matched explicitly. Returns the matching paths inside the root,
   * spelled as the pattern spells its directories.
   *
   * glob(3) sorts results with strcoll(3); ldconfig sets LC_COLLATE to "C", so
   * this sorts by plain byte order of the UTF-8 encoding, which equals strcmp.
   */
  glob(pattern: string, options: { cwd?: string } = {}): string[] {
    const absolute = pattern.startsWith('/') ? pattern : joinInRoot(options.cwd ?? '/', pattern);
    const components = absolute.split('/').filter((component) => component !== '');
    if (components.length === 0) return this.exists('/') ? ['/'] : [];

    let candidates = [''];
    for (const [index, component] of components.entries()) {
      const isLast = index === components.length - 1;
      const next: string[] = [];

      if (!GLOB_MAGIC.test(component)) {
        for (const prefix of candidates) {
          const candidate = `${prefix}/${component}`;
          // Intermediate components are checked when their directory is listed.
          if (!isLast || this.resolve(candidate, { followFinal: false }).ok) next.push(candidate);
        }
      } else {
        // glob(3) without GLOB_PERIOD: a leading `.` must be matched by a literal `.`,
        // never by `*`, `?` or a bracket expression, so hidden names are filtered here.
        const matchesHidden = component.startsWith('.') || component.startsWith('\\.');
        const matches = picomatch(component, {
          dot: true,
          nobrace: true,
          noextglob: true,
          noglobstar: true,
          nonegate: true,
          posix: true,
        });
        for (const prefix of candidates) {
          const names = this.listDir(prefix === '' ? '/' : prefix) ?? [];
          for (const name of names) {
            if ((matchesHidden || !name.startsWith('.')) && matches(name)) next.push(`${prefix}/${name}`);
          }
        }
      }

      candidates = next;
      if (candidates.length === 0) return [];
    }

    return candidates.sort(compareByteOrder);
  }

  /** Resolves a path to read, always following a final symlink, because the host would follow it out of the root. */
  private resolveRegularFile(pathInRoot: string, options: { cwd?: string }): ResolveResult {
    const result = this.resolve(pathInRoot, { ...options, followFinal: true });
    if (!result.ok || !result.stat.isDirectory) return result;

    return {
      ok: false,
      errno: 'EISDIR',
      path: result.path,
      message: `${describe(pathInRoot, result.path)} is a directory, not a file (inside ${this.root}).`,
      links: result.links,
      notes: result.notes,
    };
  }

  private hostFailure(result: ResolveSuccess, error: unknown): ResolveFailure {
    const errno = errnoOf(error);
    return {
      ok: false,
      errno,
      path: result.path,
      message:
        errno === 'EACCES'
          ? `Permission denied reading ${result.path} (host path ${result.hostPath}); make the file readable or run as a user who can read the root.`
          : `Cannot read ${result.path} (host path ${result.hostPath}): ${errno}.`,
      links: result.links,
      notes: result.notes,
    };
  }

  private walk(input: string, absolute: string, followFinal: boolean): ResolveResult {
    const links: SymlinkHop[] = [];
    const notes: SymlinkNote[] = [];
    const fail = (errno: RootedErrno, at: string, message: string): ResolveFailure => ({
      ok: false,
      errno,
      path: at,
      message,
      links,
      notes,
    });

    // Linux returns ENOENT for an empty pathname (path_resolution(7)).
    if (input === '') return fail('ENOENT', '', `Empty path: nothing to resolve inside ${this.root}.`);
    if (byteLength(absolute) >= PATH_MAX) {
      return fail(
        'ENAMETOOLONG',
        absolute.slice(0, 64) + '...',
        `Path is ${byteLength(absolute)} bytes long; Linux allows at most ${PATH_MAX - 1} (PATH_MAX).`,
      );
    }

    // `pending` is a stack of components still to walk, next component last.
    const pending = absolute.split('/').reverse();
    const current: string[] = [];
    let finalStat: RootedStat | undefined;

    while (pending.length > 0) {
      const name = pending.pop() as string;
      if (name === '' || name === '.') continue;
      if (name === '..') {
        // `current` contains only real directories, so dropping the last one is physical.
        current.pop();
        finalStat = undefined;
        continue;
      }

      const parent = toPath(current);
      const childPath = parent === '/' ? `/${name}` : `${parent}/${name}`;
      if (byteLength(name) > NAME_MAX) {
        return fail(
          'ENAMETOOLONG',
          childPath,
          `Path component "${name.slice(0, 32)}..." in ${input} is ${byteLength(name)} bytes; Linux allows at most ${NAME_MAX} (NAME_MAX).`,
        );
      }

      const child = this.lookupChild(parent, name, childPath);
      if ('errno' in child) {
        return fail(child.errno, childPath, this.lookupMessage(child.errno, input, childPath, links));
      }

      // A trailing `/` or `/.` leaves a component on the stack, so such a link is followed too.
      const isFinal = pending.length === 0;
      if (child.isSymbolicLink && (!isFinal || followFinal)) {
        if (links.length >= MAX_SYMLINK_HOPS) {
          return fail('ELOOP', childPath, this.loopMessage(input, links));
        }

        const target = this.readLinkTarget(childPath);
        if (typeof target !== 'string') {
          return fail(target.errno, childPath, this.lookupMessage(target.errno, input, childPath, links));
        }
        links.push({ link: childPath, target });

        if (target === '') {
          return fail('ENOENT', childPath, `Symlink ${childPath} has an empty target, which Linux treats as not found.`);
        }
        if (byteLength(target) >= PATH_MAX) {
          return fail('ENAMETOOLONG', childPath, `Symlink ${childPath} has a target of ${byteLength(target)} bytes; Linux allows at most ${PATH_MAX - 1}.`);
        }

        const note = this.noteForTarget(childPath, current.length, target);
        if (note) notes.push(note);

        if (target.startsWith('/')) current.length = 0;
        const parts = target.split('/');
        for (let index = parts.length - 1; index >= 0; index -= 1) pending.push(parts[index] as string);
        finalStat = undefined;
        continue;
      }

      if (!isFinal && !child.isDirectory) {
        return fail('ENOTDIR', childPath, `${childPath} is not a directory, so ${input} cannot be resolved inside ${this.root}.`);
      }

      current.push(name);
      finalStat = child;
    }

    const resolvedPath = toPath(current);
    if (!finalStat) {
      // The path ended at a directory reached through `.`, `..` or a symlink to it.
      const directory = current.length === 0 ? this.statRoot() : this.lstatHost(resolvedPath);
      if ('errno' in directory) return fail(directory.errno, resolvedPath, this.lookupMessage(directory.errno, input, resolvedPath, links));
      finalStat = directory;
    }

    return {
      ok: true,
      path: resolvedPath,
      hostPath: this.hostPathOf(resolvedPath),
      stat: finalStat,
      identity: `${finalStat.dev}:${finalStat.ino}`,
      links,
      notes,
    };
  }

  /**
   * Looks up one name in a directory. The name must appear in the directory
   * listing with exactly this spelling, because macOS volumes are usually
   * case-insensitive and lstat alone would accept `LibFoo.so.1` for `libfoo.so.1`.
   */
  private lookupChild(parent: string, name: string, childPath: string): RootedStat | HostFailure {
    const listing = this.listing(parent);
    if ('errno' in listing) {
      if (listing.errno !== 'EACCES') return listing;
      // NOTE: a directory that can be searched but not read is looked up with
      // lstat alone, so exact case is not confirmed there.
    } else if (!listing.names.has(name)) {
      return { errno: 'ENOENT' };
    }
    return this.lstatHost(childPath);
  }

  private listing(directory: string): { names: Set<string>; sorted: readonly string[] } | HostFailure {
    let listing = this.listings.get(directory);
    if (!listing) {
      let hostNames: string[] | HostFailure;
      try {
        hostNames = this.io.readdirSync(this.hostPathOf(directory));
      } catch (error) {
        hostNames = { errno: errnoOf(error) };
      }

      // A folder above a mount point also lists the names that lead to it,
      // and exists even when the root has no such folder.
      const mountNames = this.mountParents.get(directory);
      if (mountNames && 'errno' in hostNames && isAbsent(hostNames.errno)) hostNames = [];
      if (mountNames && !('errno' in hostNames)) hostNames = [...new Set([...hostNames, ...mountNames])];

      if ('errno' in hostNames) {
        listing = hostNames;
      } else {
        const sorted = hostNames.sort(compareByteOrder);
        listing = { names: new Set(sorted), sorted };
      }
      this.listings.set(directory, listing);
    }
    return listing;
  }

  private lstatHost(pathInRoot: string): RootedStat | HostFailure {
    let stat = this.lstats.get(pathInRoot);
    if (!stat) {
      stat = this.readHostStat(pathInRoot);
      this.lstats.set(pathInRoot, stat);
    }
    return stat;
  }

  /**
   * Reads the status of one path inside the root. A mount point shows its
   * source with host symlinks followed. A folder above a mount point is the
   * root's own directory or symlink when it has one, else an empty directory
   * made up here. A symlink there is kept, so paths through it reach the
   * link's target, not the mount.
   */
  private readHostStat(pathInRoot: string): RootedStat | HostFailure {
    const mountSource = this.mountSources.get(pathInRoot);
    const aboveMount = this.mountParents.has(pathInRoot);
    try {
      if (mountSource !== undefined) return toRootedStat(this.io.statSync(mountSource, { bigint: true }));
      const stat = toRootedStat(this.io.lstatSync(this.hostPathOf(pathInRoot), { bigint: true }));
      if (aboveMount && !stat.isDirectory && !stat.isSymbolicLink) return this.madeUpDirectory(pathInRoot);
      return stat;
    } catch (error) {
      const errno = errnoOf(error);
      if (aboveMount && isAbsent(errno)) return this.madeUpDirectory(pathInRoot);
      return { errno };
    }
  }

  /** Status of a folder above a mount point that the root lacks. Device 0 keeps its identity apart from host files. */
  private madeUpDirectory(pathInRoot: string): RootedStat {
    const index = [...this.mountParents.keys()].indexOf(pathInRoot);
    return { dev: 0n, ino: BigInt(index + 1), mode: 0o40755, size: 0, isFile: false, isDirectory: true, isSymbolicLink: false };
  }

  private statRoot(): RootedStat | HostFailure {
    if (!this.rootStat) {
      try {
        this.rootStat = toRootedStat(this.io.statSync(this.root, { bigint: true }));
      } catch (error) {
        this.rootStat = { errno: errnoOf(error) };
      }
    }
    return this.rootStat;
  }

  private readLinkTarget(pathInRoot: string): string | HostFailure {
    let target = this.linkTargets.get(pathInRoot);
    if (target === undefined) {
      try {
        target = this.io.readlinkSync(this.hostPathOf(pathInRoot));
      } catch (error) {
        target = { errno: errnoOf(error) };
      }
      this.linkTargets.set(pathInRoot, target);
    }
    return target;
  }

  private noteForTarget(link: string, linkDirectoryDepth: number, target: string): SymlinkNote | undefined {
    if (target.startsWith('/')) {
      return {
        kind: 'absolute-target',
        link,
        target,
        message: `${link} -> ${target} is absolute; re-rooted inside ${this.root}.`,
      };
    }

    let depth = linkDirectoryDepth;
    for (const part of target.split('/')) {
      if (part === '' || part === '.') continue;
      depth += part === '..' ? -1 : 1;
      if (depth < 0) {
        return {
          kind: 'escapes-root',
          link,
          target,
          message: `${link} -> ${target} climbs above the root; \`..\` stops at ${this.root} as it does at / under chroot.`,
        };
      }
    }
    return undefined;
  }

  private lookupMessage(errno: RootedErrno, input: string, at: string, links: readonly SymlinkHop[]): string {
    const via = links.length > 0 ? ` (via ${formatChain(links)})` : '';
    switch (errno) {
      case 'ENOENT':
        return `${at} not found inside ${this.root} while resolving ${input}${via}.`;
      case 'EACCES':
        return `Permission denied at ${at} inside ${this.root} while resolving ${input}${via}; make it readable or run as a user who can read the root.`;
      default:
        return `Cannot resolve ${input} inside ${this.root}: ${errno} at ${at}${via}.`;
    }
  }

  private loopMessage(input: string, links: readonly SymlinkHop[]): string {
    return (
      `Too many levels of symbolic links resolving ${input} inside ${this.root}: ` +
      `more than ${MAX_SYMLINK_HOPS} links (the Linux limit). Links followed: ${formatChain(links)}. ` +
      'Look for a symlink cycle in that chain.'
    );
  }
}

/** Compares strings by the byte order of their UTF-8 encoding (code point order), like strcmp on UTF-8. */
export function compareByteOrder(left: string, right: string): number {
  const length = Math.min(left.length, right.length);
  for (let index = 0; index < length; index += 1) {
    const a = left.charCodeAt(index);
    const b = right.charCodeAt(index);
    if (a === b) continue;
    // Surrogates (astral code points) sort after every other BMP code unit in UTF-8.
    const aSurrogate = a >= 0xd800 && a <= 0xdfff;
    const bSurrogate = b >= 0xd800 && b <= 0xdfff;
    if (aSurrogate !== bSurrogate) return aSurrogate ? 1 : -1;
    return a - b;
  }
  return left.length - right.length;
}

/** Joins a path onto a directory inside the root; the result may still contain `.` and `..`. */
export function joinInRoot(directory: string, relative: string): string {
  const base = directory.startsWith('/') ? directory : `/${directory}`;
  return base.endsWith('/') ? base + relative : `${base}/${relative}`;
}

function toPath(components: readonly string[]): string {
  return '/' + components.join('/');
}

function normalizeMountPoint(imagePath: string): string {
  const normalized = posix.normalize(imagePath).replace(/\/+$/, '');
  if (!imagePath.startsWith('/') || normalized === '') {
    throw new Error(`Mount point ${JSON.stringify(imagePath)} is not an absolute path below /; give the path inside the root where the host folder should appear, e.g. /app.`);
  }
  return normalized;
}

function isAbsent(errno: RootedErrno): boolean {
  return errno === 'ENOENT' || errno === 'ENOTDIR';
}

function toRootedStat(stats: HostStats): RootedStat {
  return {
    dev: stats.dev,
    ino: stats.ino,
    mode: Number(stats.mode),
    size: Number(stats.size),
    isFile: stats.isFile(),
    isDirectory: stats.isDirectory(),
    isSymbolicLink: stats.isSymbolicLink(),
  };
}

function errnoOf(error: unknown): RootedErrno {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
    case 'ELOOP':
    case 'EACCES':
    case 'ENAMETOOLONG':
    case 'EISDIR':
      return code;
    case 'EPERM':
      return 'EACCES';
    default:
      // EIO and similar errors mean the host is broken, not that the root's layout is wrong.
      throw error;
  }
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function describe(input: string, resolved: string): string {
  return input === resolved ? resolved : `${input} (${resolved})`;
}

function formatChain(links: readonly SymlinkHop[]): string {
  const shown = links.length > 12 ? [...links.slice(0, 6), undefined, ...links.slice(-5)] : links;
  return shown.map((hop) => (hop ? `${hop.link} -> ${hop.target}` : '...')).join(', ');
}
