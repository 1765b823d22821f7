import type { Construct } from 'constructs';
import { checkStartsWithSlash } from './private/checks';

/** What {@link HttpRoutePathMatch.bind} returns. */
export interface HttpRoutePathMatchConfig {
  /**
   * Whole-path match (exact or regex).
   * @default - no whole-path match
   */
  readonly wholePathMatch?: { exact: string } | { regex: string };
  /**
   * Prefix match.
   * @default - no prefix match
   */
  readonly prefixPathMatch?: string;
}

/** How a route matches the request path. */
export abstract class HttpRoutePathMatch {
  /** The path equals `path` (which starts with '/'). */
  static exactly(path: string): HttpRoutePathMatch {
    checkStartsWithSlash('Exact path', path);
    return new PathMatchOf({ wholePathMatch: { exact: path } });
  }
  /** The path matches `regex`. */
  static regex(regex: string): HttpRoutePathMatch {
    return new PathMatchOf({ wholePathMatch: { regex } });
  }
  /** The path starts with `prefix` (which starts with '/'; '/' matches everything). */
  static startsWith(prefix: string): HttpRoutePathMatch {
    checkStartsWithSlash('Prefix path', prefix);
    return new PathMatchOf({ prefixPathMatch: prefix });
  }
  /** Renders the match. */
  abstract bind(scope: Construct): HttpRoutePathMatchConfig;
}

class PathMatchOf extends HttpRoutePathMatch {
  constructor(private readonly config: HttpRoutePathMatchConfig) {
    super();
  }
  bind(_scope: Construct): HttpRoutePathMatchConfig {
    return this.config;
  }
}

/** What {@link HttpGatewayRoutePathMatch.bind} returns. */
export interface HttpGatewayRoutePathMatchConfig extends HttpRoutePathMatchConfig {
  /**
   * Whole-path rewrite.
   * @default - the path is kept
   */
  readonly wholePathRewrite?: { exact: string };
  /**
   * Prefix rewrite.
   * @default - the matched prefix is rewritten to '/'
   */
  readonly prefixPathRewrite?: { defaultPrefix?: 'ENABLED' | 'DISABLED'; value?: string };
}

/** How a gateway route matches the request path, and how it rewrites it. */
export abstract class HttpGatewayRoutePathMatch {
  /**
   * The path starts with `prefix`. By default the matched prefix is rewritten to '/'; `rewriteTo`
   * '' keeps the path, any other value (starting and ending with '/') replaces the prefix.
   */
  static startsWith(prefix: string, rewriteTo?: string): HttpGatewayRoutePathMatch {
    checkStartsWithSlash('Prefix path', prefix);
    if (rewriteTo !== undefined && rewriteTo !== '') {
      if (!prefix.endsWith('/')) throw new Error(`Prefix path must end with '/' when it is rewritten, got: ${prefix}`);
      if (!rewriteTo.startsWith('/') || !rewriteTo.endsWith('/')) throw new Error(`Prefix rewrite must start and end with '/', got: ${rewriteTo}`);
    }
    return new GatewayPathMatchOf({
      prefixPathMatch: prefix,
      prefixPathRewrite: rewriteTo === undefined ? undefined : rewriteTo === '' ? { defaultPrefix: 'DISABLED' } : { value: rewriteTo },
    });
  }
  /** The path equals `path`; `rewriteTo` replaces the whole path. */
  static exactly(path: string, rewriteTo?: string): HttpGatewayRoutePathMatch {
    checkStartsWithSlash('Exact path', path);
    checkStartsWithSlash('Path rewrite', rewriteTo);
    return new GatewayPathMatchOf({ wholePathMatch: { exact: path }, wholePathRewrite: rewriteTo !== undefined ? { exact: rewriteTo } : undefined });
  }
  /** The path matches `regex`; `rewriteTo` replaces the whole path. */
  static regex(regex: string, rewriteTo?: string): HttpGatewayRoutePathMatch {
    checkStartsWithSlash('Path rewrite', rewriteTo);
    return new GatewayPathMatchOf({ wholePathMatch: { regex }, wholePathRewrite: rewriteTo !== undefined ? { exact: rewriteTo } : undefined });
  }
  /** Renders the match. */
  abstract bind(scope: Construct): HttpGatewayRoutePathMatchConfig;
}

class GatewayPathMatchOf extends HttpGatewayRoutePathMatch {
  constructor(private readonly config: HttpGatewayRoutePathMatchConfig) {
    super();
  }
  bind(_scope: Construct): HttpGatewayRoutePathMatchConfig {
    return this.config;
  }
}
