/** esbuild bundles imported stylesheets into the report's CSS asset. */
declare module '*.css';
