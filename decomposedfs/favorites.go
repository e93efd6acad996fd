package decomposedfs

import (
	"context"
	"fmt"
)

// favoriteKey is the dead-property key that marks a node as one user's
// favourite: favourites are per user, properties are shared, so the key
// carries the user.
func favoriteKey(user string) string { return "{urn:s3dfs}favorite:" + user }

// SetFavorite marks or unmarks a node as a favourite of the context's user.
// It needs only PermStat: marking a favourite changes nothing for others.
func (fs *FS) SetFavorite(ctx context.Context, ref Reference, favorite bool) error {
	user := userOf(ctx)
	if user == "" {
		return fmt.Errorf("%w: favourites belong to a user; the context names none", ErrInvalidRef)
	}
	n, p, err := fs.resolve(ctx, ref)
	if err != nil {
		return err
	}
	if _, err := fs.authorize(ctx, n.SpaceID, p, PermStat); err != nil {
		return err
	}
	set, remove := map[string]string{favoriteKey(user): "1"}, []string(nil)
	if !favorite {
		set, remove = nil, []string{favoriteKey(user)}
	}
	_, err = fs.setProps(ctx, n, p, set, remove)
	return err
}

// IsFavorite reports whether ri is a favourite of the context's user.
func IsFavorite(ctx context.Context, ri *ResourceInfo) bool {
	user := userOf(ctx)
	return user != "" && ri.Props[favoriteKey(user)] == "1"
}
