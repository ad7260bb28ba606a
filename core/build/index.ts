export { buildImage, type BuildImageOptions, type BuildImageResult } from './build-image';
export { BuildError } from './errors';
