export interface InitGeneratorSchema {
  imageTargetName?: string;
  serveTargetName?: string;
  sysrootTargetName?: string;
  buildTargetName?: string;
  ops?: boolean;
  skipFormat?: boolean;
  skipPackageJson?: boolean;
  keepExistingVersions?: boolean;
}
