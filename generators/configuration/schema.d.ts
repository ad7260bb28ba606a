export interface ConfigurationGeneratorSchema {
  project: string;
  /** Needed unless the project already has a unikernel.json. */
  program?: string;
  /** A single value when given once on the command line. */
  args?: string[] | string | number;
  ports?: (string | number)[] | string | number;
  accelerator?: 'auto' | 'kvm' | 'hvf' | 'tcg';
  overwrite?: boolean;
  skipFormat?: boolean;
}
